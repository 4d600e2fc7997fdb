/**
 * Text that came from outside (a registry, a signature, a config) made safe to print: control
 * characters, which could move a terminal's cursor, recolour or clear it, or forge a line of output,
 * are shown escaped (`\u001b`) instead of acted on.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

function escape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** One line: every control character escaped, and at most `max` characters. */
export function printable(text: string, max = 300): string {
  const clean = text.replace(CONTROL, escape);
  return clean.length > max ? `${clean.slice(0, max)}… (${text.length} characters)` : clean;
}

/** A message that may span lines (a list of policy problems): newlines and tabs kept, other control characters escaped. */
export function printableLines(text: string): string {
  return text.replace(CONTROL_BUT_LINES, escape);
}
