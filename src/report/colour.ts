/**
 * Colour for text output read on a terminal: a finding's verdict and severity in the colour of its
 * severity. On when stdout is a terminal (or FORCE_COLOR is set), off with NO_COLOR (no-color.org)
 * or TERM=dumb, and always off when the output is piped or written to a file.
 */
import type { Severity } from '../types.js';

/** Paints `text` in the colour of `severity` (the identity when colour is off). */
export type Paint = (severity: Severity, text: string, dim?: boolean) => string;

const SGR: Record<string, string> = { critical: '1;31', high: '31', medium: '33', low: '36', info: '2' };

export function colourOn(outIsTty: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  if (env['NO_COLOR']) return false;
  if (env['FORCE_COLOR'] && env['FORCE_COLOR'] !== '0') return true;
  return Boolean(outIsTty) && env['TERM'] !== 'dumb';
}

export function painter(on: boolean): Paint {
  if (!on) return (_severity, text) => text;
  return (severity, text, dim) => `\x1b[${dim ? '2' : (SGR[severity] ?? '0')}m${text}\x1b[0m`;
}

/** No colour: what every renderer does unless told otherwise. */
export const PLAIN: Paint = painter(false);
