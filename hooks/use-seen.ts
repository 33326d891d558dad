"use client";
/**
 * Whether an element has been on screen (or near it) at least once: a flow card asks for its
 * schedules only then, so a page of 50 cards costs requests for the ones actually looked at.
 */
import { useCallback, useState } from "react";

export function useSeen<T extends Element>(rootMargin = "200px"): [(el: T | null) => (() => void) | undefined, boolean] {
  const [seen, setSeen] = useState(false);
  // A callback ref with a cleanup (React 19): observes while mounted, stops at the first sight.
  const ref = useCallback(
    (node: T | null) => {
      if (!node) return undefined;
      if (typeof IntersectionObserver === "undefined") {
        setSeen(true);
        return undefined;
      }
      const io = new IntersectionObserver(
        (entries) => {
          if (entries.some((e) => e.isIntersecting)) {
            setSeen(true);
            io.disconnect();
          }
        },
        { rootMargin },
      );
      io.observe(node);
      return () => io.disconnect();
    },
    [rootMargin],
  );
  return [ref, seen];
}
