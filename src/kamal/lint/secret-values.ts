/**
 * Whether a name or a value looks like a secret: token formats issuers use, long random-looking
 * strings, and variable names that hold secrets by convention. Shared by the rules that look for
 * secrets written in the config and in files git tracks.
 */

/** Variable names that hold secrets by convention. */
const SECRET_NAME =
  /(?:^|_)(?:PASSWORD|PASSWD|PASS|SECRET|SECRETS|TOKEN|APIKEY|API_KEY|PRIVATE_KEY|ACCESS_KEY|SECRET_KEY|MASTER_KEY|KEY_BASE|CREDENTIALS?|SIGNING_KEY|ENCRYPTION_KEY|CLIENT_SECRET|WEBHOOK_URL|KEY)(?:_|$)/i;
/** Names that look like secrets but are not (identifiers, public halves, sizes, paths). */
const NOT_SECRET_NAME = /(?:^|_)(?:PUBLIC|PUBLISHABLE|ID|IDS|FILE|PATH|DIR|LENGTH|MIN|MAX|SIZE|TTL|EXPIRY|EXPIRES|URL_HOST|ALGORITHM|TYPE|USER|USERNAME|NAME|ENABLED|REQUIRED|HEADER|FORMAT)$/i;

/** Well-known secret formats (prefixes issuers put on their tokens). */
const SECRET_VALUE_PATTERNS: Array<[string, RegExp]> = [
  ['a GitHub token', /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/],
  ['a GitLab token', /\bglpat-[A-Za-z0-9_-]{20,}/],
  ['an AWS access key id', /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/],
  ['a Stripe secret key', /\b(?:sk|rk)_live_[A-Za-z0-9]{16,}/],
  ['a Slack token', /\bxox[abprs]-[A-Za-z0-9-]{10,}/],
  ['a Slack webhook URL', /hooks\.slack\.com\/services\/[A-Za-z0-9/]+/],
  ['a Google API key', /\bAIza[0-9A-Za-z_-]{35}\b/],
  ['a SendGrid key', /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/],
  ['an OpenAI key', /\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}/],
  ['a private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['a URL with a password', /[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:[^\s@/]+@/i],
];

/** Shannon entropy in bits per character. */
function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Why a value looks like a secret, or undefined. Long random-looking strings count too. */
export function secretValueKind(value: string): string | undefined {
  for (const [kind, re] of SECRET_VALUE_PATTERNS) if (re.test(value)) return kind;
  const v = value.trim();
  if (v.length >= 24 && !/\s/.test(v) && !/^(?:https?|file):\/\//i.test(v) && !v.includes('/') && entropy(v) >= 4.2) {
    const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((re) => re.test(v)).length;
    if (classes >= 2 || /^[0-9a-f]{32,}$/i.test(v)) return 'a high-entropy string';
  }
  if (/^[0-9a-f]{32,}$/i.test(v)) return 'a long hex string';
  return undefined;
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}

/** Values that say "nothing here" rather than a secret. */
export function isPlaceholder(value: string): boolean {
  const v = value.trim().toLowerCase();
  return v === '' || v === 'true' || v === 'false' || v === 'null' || v === 'nil' || v === 'none' || /^(?:changeme|change-me|xxx+|\*+|<.*>|example|placeholder|dummy|test)$/.test(v);
}
