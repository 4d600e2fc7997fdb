/**
 * The one quoting function for the remote shell. Every value from a Kamal config or a registry that
 * reaches a command run over SSH (an image reference, a digest, a label, a user name) goes through
 * `shellQuote`; the rest of a remote command is fixed words written in the source.
 *
 * The remote side is the login shell sshd starts with `-c <command>`: a POSIX shell, as Kamal (SSHKit)
 * assumes. Inside single quotes a POSIX shell treats every byte literally except `'` itself, which is
 * written as `'\''` (close, escaped quote, reopen). So a value is always wrapped whole in single quotes,
 * and nothing in it is expanded: no `$(…)`, backticks, `$VAR`, globs, `;`, `|` or redirections.
 *
 * Refused (ConfigError naming what the value is, and what to do), because quoting cannot make them safe
 * or faithful: NUL (a C string ends there: the remote argument would be cut short), line breaks and
 * other control characters (C0, DEL, C1, U+2028/U+2029: some shells, terminals and logs treat them as
 * command or line separators), lone UTF-16 surrogates (they cannot be sent as UTF-8 unchanged), and
 * values longer than MAX_QUOTED_LENGTH.
 */
import { ConfigError } from '../errors.js';
import { printable } from '../printable.js';

/** Longer values are refused: no image reference, digest, label or user name comes near it. */
export const MAX_QUOTED_LENGTH = 4096;

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function describe(c: string): string {
  if (c === '\u0000') return 'a NUL character';
  if (c === '\n' || c === '\r' || c === '\u2028' || c === '\u2029') return 'a line break';
  const code = c.charCodeAt(0);
  if (code >= 0xd800 && code <= 0xdfff) return 'an unpaired UTF-16 surrogate';
  return `a control character (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
}

/**
 * `value` as one word for a POSIX shell: single-quoted, printed back exactly by the remote shell.
 * `what` names the value in the error (e.g. `ssh.user "x" of host web-1`, `the image reference`).
 * Throws ConfigError for a value that cannot be passed safely.
 */
export function shellQuote(value: string, what: string): string {
  if (value.length > MAX_QUOTED_LENGTH) {
    throw new ConfigError(`${what} is ${value.length} characters long; kamal-gate passes at most ${MAX_QUOTED_LENGTH} characters to a remote shell. Shorten it in the config.`);
  }
  const bad = UNSAFE.exec(value);
  if (bad) {
    throw new ConfigError(
      `${what} "${printable(value, 120)}" contains ${describe(bad[0])} at position ${bad.index + 1}, which cannot be passed safely to a remote shell; nothing was run. Remove it from the config.`,
    );
  }
  return `'${value.replaceAll("'", "'\\''")}'`;
}
