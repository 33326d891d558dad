"use client";
/**
 * A modal sheet (native <dialog>, so focus is trapped and Escape works), opened on mount and
 * closed by unmounting; focus goes back to whatever opened it. The same behaviour as the
 * trigger panel's dialog.
 */
import { useEffect, useRef, type ReactNode } from "react";

export function SheetDialog({
  labelledBy,
  onClose,
  testId,
  wide = false,
  children,
}: {
  labelledBy: string;
  onClose: () => void;
  testId?: string;
  wide?: boolean;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (d && !d.open) d.showModal();
    return () => {
      d?.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className={`sheet ${wide ? "sheet-wide" : ""}`}
      aria-labelledby={labelledBy}
      // Queued close events: in dev, StrictMode closes and reopens on mount; a stale one must not unmount an open dialog.
      onClose={() => {
        if (!ref.current?.open) onClose();
      }}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      data-testid={testId}
    >
      {children}
    </dialog>
  );
}
