/**
 * Secrets never reach output, logs, errors or the ledger. Every secret value kamal-gate learns
 * (registry passwords, tokens, identity tokens) is registered here, and every string that leaves
 * the process passes through `redact`.
 */
const secrets = new Set<string>();

/** Values shorter than this are not registered: redacting "a" everywhere would destroy output. */
const MIN_SECRET_LENGTH = 4;

export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < MIN_SECRET_LENGTH) return;
  secrets.add(value);
  // Also the forms a secret commonly takes in transit.
  const b64 = Buffer.from(value).toString('base64');
  if (b64.length >= MIN_SECRET_LENGTH) secrets.add(b64);
  const enc = encodeURIComponent(value);
  if (enc !== value) secrets.add(enc);
}

/** Registers the base64 `user:password` pair sent in Basic auth. */
export function registerBasicAuth(username: string, password: string): void {
  registerSecret(password);
  registerSecret(Buffer.from(`${username}:${password}`).toString('base64'));
}

export function redact(text: string): string {
  if (secrets.size === 0 || !text) return text;
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join('***');
  }
  return out;
}
