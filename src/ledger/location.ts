/**
 * What a ledger location may be: a `postgres://` or `postgresql://` URL, or a file path.
 *
 * Anything else that carries a URL scheme (`postgres:/x`, `postgresql+asyncpg://…`, `mysql://…`,
 * `http://…`) or has white space around it is a usage error before anything is opened: taken as a
 * path it would become a fresh, empty ledger that approves every tag. A file whose name really has a
 * colon before any slash is written `./name:x.jsonl`. Messages show the location with its password
 * masked, and the password is registered as a secret so no later output can show it either.
 */
import { UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';

export type LedgerLocation = { kind: 'postgres'; url: string } | { kind: 'file'; path: string };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;
/** A Windows drive path, `C:\…` or `C:/…`: a path there, never a URL scheme. */
const DRIVE = /^[A-Za-z]:[\\/]/;

function registerPassword(value: string): void {
  registerSecret(value);
  try {
    registerSecret(decodeURIComponent(value));
  } catch {
    // not validly percent-encoded: the raw form is registered
  }
}

/**
 * The location as it may be shown: for anything with a URL scheme, the password of its user info
 * and any `password=` / `sslpassword=` query parameter replaced by `***` (each also registered as a
 * secret). The user info runs to the last `@`, so a password holding a raw `@` or `/` is masked whole.
 */
function maskLedgerLocation(raw: string): string {
  const lead = raw.length - raw.trimStart().length;
  const text = raw.slice(lead);
  const scheme = SCHEME.exec(text);
  if (!scheme || (process.platform === 'win32' && DRIVE.test(text))) return raw;
  const head = scheme[0] + (/^\/*/.exec(text.slice(scheme[0].length))?.[0] ?? '');
  let rest = text.slice(head.length);
  const at = rest.lastIndexOf('@');
  const colon = at > 0 ? rest.slice(0, at).indexOf(':') : -1;
  if (colon >= 0) {
    registerPassword(rest.slice(colon + 1, at));
    rest = `${rest.slice(0, colon)}:***${rest.slice(at)}`;
  }
  rest = rest.replace(/([?&](?:ssl)?password=)([^&#]*)/gi, (_m, key: string, value: string) => {
    registerPassword(value);
    return `${key}***`;
  });
  return raw.slice(0, lead) + head + rest;
}

/**
 * Checks a ledger location given by `origin` (`--ledger`, `$KAMAL_GATE_LEDGER_URL`) and says which
 * backend it names. Throws UsageError (exit 2) for anything that is neither a PostgreSQL URL nor a path.
 */
export function parseLedgerLocation(raw: string, origin: string): LedgerLocation {
  if (raw === '') throw new UsageError(`${origin} is empty: give a ledger file path or a postgres:// URL`);
  const shown = maskLedgerLocation(raw);
  if (raw.trim() !== raw) {
    throw new UsageError(`${origin} has white space at its start or end (${JSON.stringify(shown)}): remove it`);
  }
  if (POSTGRES_URL.test(raw)) return { kind: 'postgres', url: raw };
  const scheme = SCHEME.exec(raw)?.[1];
  if (scheme === undefined || (process.platform === 'win32' && DRIVE.test(raw))) return { kind: 'file', path: raw };
  const lower = scheme.toLowerCase();
  const hint =
    lower === 'postgres' || lower === 'postgresql'
      ? `a PostgreSQL URL starts with ${lower}:// (two slashes): ${lower}://USER:PASSWORD@HOST:PORT/DATABASE`
      : lower.startsWith('postgres')
        ? `kamal-gate takes a plain postgres:// or postgresql:// URL, without a driver suffix: postgresql://USER:PASSWORD@HOST:PORT/DATABASE`
        : raw.startsWith(`${scheme}://`)
          ? `the ledger is a file path or a PostgreSQL database (postgres://… or postgresql://…); ${scheme}:// is not supported`
          : `the ledger is a file path or a postgres:// or postgresql:// URL (a file whose name has a colon is written ./${shown})`;
  throw new UsageError(`${origin} is not a ledger location kamal-gate can use (${shown}): ${hint}`);
}
