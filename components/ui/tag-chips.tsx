import { showBidiControls } from "@/lib/text/bidi";

/** Tags (key → value) as chips; keys and values are plain text, never HTML. */
export function TagChips({ tags, testId = "tag-chip" }: { tags: Record<string, string>; testId?: string }) {
  const entries = Object.entries(tags);
  if (!entries.length) return <span className="text-faint text-xs">no tags</span>;
  return (
    <ul className="flex flex-wrap gap-1.5" aria-label="tags">
      {entries.map(([k, v]) => (
        <li key={k} className="chip" data-testid={testId}>
          <span className="chip-key">{showBidiControls(k)}</span>
          <span className="text-faint">:</span>
          {showBidiControls(v)}
        </li>
      ))}
    </ul>
  );
}
