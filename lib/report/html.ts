/**
 * Escaped-by-construction HTML: `html` tagged templates escape every interpolated value unless
 * it is itself a SafeHtml produced by `html`. User strings can only ever become text.
 */
import { showBidiControls } from "../text/bidi";

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes markup, and shows bidi controls as visible markers (lib/text/bidi.ts). */
export function escapeHtml(s: string): string {
  return showBidiControls(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

type Value = SafeHtml | string | number | null | undefined | boolean | Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return "";
  if (Array.isArray(v)) return v.map(render).join("");
  if (v instanceof SafeHtml) return v.value;
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return new SafeHtml(out);
}

/** Marks a constant of this codebase (never user input) as HTML. */
export function trusted(constant: string): SafeHtml {
  return new SafeHtml(constant);
}
