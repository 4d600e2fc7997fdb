/**
 * Whether a name or a value looks like a secret: token formats issuers use, long random-looking
 * strings, and variable names that hold secrets by convention; and which values are public although
 * they look random (password manager references, Stripe publishable keys and price ids, host lists).
 * Shared by the rules that look for secrets written in the config and in files git tracks.
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
  ['a Stripe secret key', /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}/],
  ['a Stripe webhook secret', /\bwhsec_[A-Za-z0-9]{16,}/],
  ['a Slack token', /\bxox[abprs]-[A-Za-z0-9-]{10,}/],
  ['a Slack webhook URL', /hooks\.slack\.com\/services\/[A-Za-z0-9/]+/],
  ['a Google API key', /\bAIza[0-9A-Za-z_-]{35}\b/],
  ['a SendGrid key', /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/],
  ['an OpenAI key', /\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}/],
  ['a private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['a JWT', /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
  // The user may be empty (redis://:password@host); a password of references only is removed before this runs.
  ['a URL with a password', /[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:[^\s@/]+@/i],
  ['a URL with a token', /[a-z][a-z0-9+.-]*:\/\/\S*[?&](?:access_token|token|api_key|apikey|key|secret|password|passwd|sig|signature)=[^&#\s]{8,}/i],
];

/**
 * Values that are public although they may look random, each matching the whole value: a password
 * manager reference names a secret without holding it; Stripe price and product ids and publishable
 * keys are shown to every browser (Stripe's secret and restricted keys and webhook secrets are not).
 */
const PUBLIC_VALUE_PATTERNS: Array<[string, RegExp]> = [
  ['a 1Password reference', /^op:\/\/\S+$/],
  ['an AWS Secrets Manager or SSM reference', /^arn:aws[a-z-]*:(?:secretsmanager|ssm):\S+$/],
  ['a GCP Secret Manager reference', /^projects\/[^/\s]+\/secrets\/[^/\s]+(?:\/versions\/[^/\s]+)?$/],
  ['a Stripe publishable key, price or product id', /^(?:pk_live|pk_test|price|prod)_[A-Za-z0-9]+$/],
];

/**
 * One host of a host list: a name (with a top-level label of letters only, which random tokens with
 * dots seldom end in), localhost, IPv4 (or CIDR) or IPv6, with a port; `.example.com` and `*.example.com` too.
 */
const HOST =
  /^(?:\*\.|\.)?(?:localhost|(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,24}|xn--[a-z0-9-]+)|(?:\d{1,3}\.){3}\d{1,3}(?:\/\d{1,2})?|\[[0-9a-f:.]+\])(?::\d{1,5})?$|^[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}$/i;

const characterClasses = (v: string) => [/[a-z]/, /[A-Z]/, /[0-9]/].filter((re) => re.test(v)).length;

function items(value: string): string[] {
  return value
    .trim()
    .split(/[\s,;]+/)
    .filter(Boolean);
}

/** A host (HOST), but not a token with dots in it: upper and lower case letters and digits at once. */
const isHost = (v: string) => HOST.test(v) && characterClasses(v) < 3;

/** A hostname, an IP address, or a list of them (`127.0.0.1,localhost,stg.example.net`). */
function isHostList(value: string): boolean {
  const list = items(value);
  return list.length > 0 && list.every(isHost);
}

/** Why a value is public although it may look random (see PUBLIC_VALUE_PATTERNS; lists of them too), or undefined. */
export function publicValueKind(value: string): string | undefined {
  const list = items(value);
  if (list.length === 0) return undefined;
  for (const [kind, re] of PUBLIC_VALUE_PATTERNS) if (list.every((v) => re.test(v))) return kind;
  return undefined;
}

/**
 * Values that do not hold a secret when nothing else says so (neither a secret format nor a
 * secret's name): URLs without a password or token, host lists, e-mail addresses, short numbers.
 */
export function looksPublic(value: string): boolean {
  const list = items(value);
  if (list.length === 0) return false;
  if (list.some((v) => secretValueKind(v) !== undefined)) return false;
  return list.every((v) => /^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(v) || isHost(v) || /^[^\s@:/]+@[a-z0-9.-]+\.[a-z]{2,24}$/i.test(v) || /^-?\d{1,10}(?:\.\d+)?$/.test(v));
}

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

/** Why a value looks like a secret, or undefined. Long random-looking strings count too; public values (publicValueKind) do not. */
export function secretValueKind(value: string): string | undefined {
  for (const [kind, re] of SECRET_VALUE_PATTERNS) if (re.test(value)) return kind;
  const v = value.trim();
  if (publicValueKind(v) || isHostList(v)) return undefined;
  // AWS secret access keys: 40 characters of base64, often with slashes.
  if (/^[A-Za-z0-9/+]{40}$/.test(v) && characterClasses(v) === 3 && entropy(v) >= 4.2) return 'an AWS secret access key';
  const randomWithSlashes = v.length >= 32 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) && !v.startsWith('/') && !v.includes('//') && characterClasses(v) === 3 && entropy(v) >= 4.5;
  if (v.length >= 24 && !/\s/.test(v) && !/^(?:https?|file):\/\//i.test(v) && (!v.includes('/') || randomWithSlashes) && entropy(v) >= 4.2) {
    if (characterClasses(v) >= 2 || /^[0-9a-f]{32,}$/i.test(v)) return 'a high-entropy string';
  }
  if (/^[0-9a-f]{32,}$/i.test(v)) return 'a long hex string';
  return undefined;
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}

/** Names that say the value is not a secret (identifiers, public halves, user names, paths). */
export function isPublicName(name: string): boolean {
  return NOT_SECRET_NAME.test(name);
}

/** Values that say "nothing here" rather than a secret. */
export function isPlaceholder(value: string): boolean {
  const v = value.trim().toLowerCase();
  return v === '' || v === 'true' || v === 'false' || v === 'null' || v === 'nil' || v === 'none' || /^(?:changeme|change-me|xxx+|\*+|<.*>|example|placeholder|dummy|test)$/.test(v);
}

/**
 * A value with its `$VAR`, `${VAR}` and `$(command)` references taken out (command substitutions
 * nest): what is written literally. `postgres://app:${POSTGRES_PASSWORD}@db/app` leaves no password.
 */
export function withoutReferences(value: string): string {
  let v = value;
  let prev: string;
  do {
    prev = v;
    v = v.replace(/\$\([^()]*\)/g, '');
  } while (v !== prev);
  return v.replace(/\$\{[A-Za-z0-9_]*\}|\$[A-Za-z0-9_]+/g, '').trim();
}
