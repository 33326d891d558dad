/** A small clock (schedules): inline SVG in the text colour, so it renders without an emoji font. */
export function ClockIcon({ className = "" }: { className?: string }) {
  return (
    <svg className={`inline-block h-[1em] w-[1em] shrink-0 align-[-0.125em] ${className}`} viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" strokeWidth="1.6" />
      <path d="M8 4.2V8l2.6 1.6" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}
