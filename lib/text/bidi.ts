/**
 * Bidirectional-override and isolate controls (U+202A–U+202E, U+2066–U+2069) reorder the text
 * that follows them: a flow named `report\u202Eexe.pdf` would read "reportfdp.exe". Stored
 * faithfully, they are shown as visible markers (`⟨U+202E⟩`) wherever user text is displayed,
 * and every text element is a bidi isolate (globals.css, the report's CSS), so nothing leaks out.
 */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

export function showBidiControls(text: string): string {
  return text.replace(BIDI_CONTROLS, (c) => `⟨U+${c.codePointAt(0)!.toString(16).toUpperCase()}⟩`);
}

export function hasBidiControls(text: string): boolean {
  BIDI_CONTROLS.lastIndex = 0;
  const found = BIDI_CONTROLS.test(text);
  BIDI_CONTROLS.lastIndex = 0;
  return found;
}
