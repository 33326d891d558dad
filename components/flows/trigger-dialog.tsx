"use client";
/**
 * The trigger panel: a modal form generated from the flow's parameter schema. On success it
 * opens the new run; a 400 from the server is shown next to the field it names.
 */
import { useRouter } from "next/navigation";
import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from "react";
import type { FlowView } from "@/lib/contracts/dashboard";
import { ApiRequestError } from "@/hooks/api-fetch";
import { triggerRun } from "@/hooks/use-flows";
import { ParameterFields, useParameterForm } from "./parameter-field";
import { fieldsOf, initialValues } from "./parameter-form-model";

export function TriggerDialog({ flow, onClose }: { flow: FlowView; onClose: () => void }) {
  const router = useRouter();
  const dialogRef = useRef<HTMLDialogElement>(null);
  const formRef = useRef<HTMLFormElement>(null);
  const fields = useMemo(() => fieldsOf(flow.parameters), [flow.parameters]);
  const form = useParameterForm(fields, () => initialValues(fields), formRef);
  const [formError, setFormError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const titleId = useId();

  useEffect(() => {
    const d = dialogRef.current;
    // The dialog is unmounted rather than closed natively: give focus back to its opener.
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (d && !d.open) d.showModal();
    return () => {
      d?.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (submitting) return;
    setFormError(null);
    const { parameters, errors: local } = form.build();
    const firstBad = Object.keys(local)[0];
    if (firstBad) {
      form.focus(firstBad);
      return;
    }
    setSubmitting(true);
    try {
      const run = await triggerRun(flow.id, parameters);
      router.push(`/runs/${run.id}`);
      onClose();
    } catch (err) {
      setSubmitting(false);
      if (err instanceof ApiRequestError) {
        if (form.showServerError(err.field, err.message)) return;
        setFormError(err.message);
      } else {
        setFormError((err as Error).message);
      }
    }
  };

  return (
    <dialog
      ref={dialogRef}
      className="sheet"
      aria-labelledby={titleId}
      // The close event is queued: in dev, React's StrictMode closes and reopens the dialog on
      // mount, and that stale event must not unmount a dialog that is open again.
      onClose={() => {
        if (!dialogRef.current?.open) onClose();
      }}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      data-testid="trigger-dialog"
    >
      <form ref={formRef} onSubmit={submit} noValidate data-testid="trigger-form" className="flex max-h-[calc(100dvh-2rem)] flex-col">
        <div className="border-b border-line px-5 py-4">
          <p className="section-title">Trigger run</p>
          <h2 id={titleId} className="mt-1 text-lg font-bold break-words text-ink">
            {flow.name}
          </h2>
          {!flow.online ? (
            <p className="mt-2 text-sm text-st-cancelled">
              No online worker of <span className="mono">{flow.clientId}</span> serves this flow: the run waits in PENDING until one does.
            </p>
          ) : null}
        </div>
        <div className="flex-1 space-y-4 overflow-y-auto px-5 py-4">
          {fields.length === 0 ? <p className="text-sm text-muted">This flow takes no parameters.</p> : null}
          <ParameterFields form={form} />
          {formError ? (
            <p role="alert" className="rounded-md border border-st-failed/50 bg-st-failed/10 px-3 py-2 text-sm text-st-failed" data-testid="form-error">
              {formError}
            </p>
          ) : null}
        </div>
        <div className="flex justify-end gap-2 border-t border-line px-5 py-3">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={submitting} data-testid="trigger-submit">
            {submitting ? "Starting…" : "Run flow"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
