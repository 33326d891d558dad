"use client";
/**
 * A tooltip shown on hover and on keyboard focus of what it wraps, dismissed with Escape.
 * It is positioned `fixed` from the trigger's box, so scrolling table containers (overflow)
 * never clip it; it stays in the DOM as the trigger's accessible description.
 */
import { useCallback, useEffect, useId, useLayoutEffect, useRef, useState, type ReactNode } from "react";

const GAP = 8;
const MARGIN = 8;

export function Tooltip({ content, children, testId }: { content: ReactNode; children: (describedBy: string) => ReactNode; testId?: string }) {
  const id = useId();
  const wrapRef = useRef<HTMLSpanElement>(null);
  const tipRef = useRef<HTMLSpanElement>(null);
  const [open, setOpen] = useState(false);
  const [pos, setPos] = useState<{ top: number; left: number; below: boolean } | null>(null);

  const place = useCallback(() => {
    const wrap = wrapRef.current;
    const tip = tipRef.current;
    if (!wrap || !tip) return;
    const r = wrap.getBoundingClientRect();
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    const below = r.top - GAP - h < MARGIN;
    const left = Math.min(Math.max(r.left + r.width / 2 - w / 2, MARGIN), window.innerWidth - w - MARGIN);
    setPos({ top: below ? r.bottom + GAP : r.top - GAP - h, left, below });
  }, []);

  useLayoutEffect(() => {
    if (open) place();
  }, [open, place, content]);

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setOpen(false);
    };
    window.addEventListener("scroll", place, true);
    window.addEventListener("resize", place);
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("scroll", place, true);
      window.removeEventListener("resize", place);
      window.removeEventListener("keydown", onKey);
    };
  }, [open, place]);

  return (
    <span
      ref={wrapRef}
      className="inline-flex"
      onMouseEnter={() => setOpen(true)}
      onMouseLeave={() => setOpen(false)}
      onFocus={() => setOpen(true)}
      onBlur={() => setOpen(false)}
    >
      {children(id)}
      <span
        ref={tipRef}
        id={id}
        role="tooltip"
        data-testid={testId}
        data-open={open ? "true" : "false"}
        className="tooltip-body mono"
        style={{
          top: pos?.top ?? 0,
          left: pos?.left ?? 0,
          visibility: open && pos ? "visible" : "hidden",
        }}
      >
        {content}
      </span>
    </span>
  );
}
