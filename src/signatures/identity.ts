/**
 * Keyless identities: the policy given to @sigstore/verify, and what a certificate says for messages.
 * The library treats the SAN as an UNANCHORED regular expression, even a plain string (notes §0.7),
 * so every pattern is anchored here, and exact identities are escaped.
 */
import type { Signer, VerificationPolicy } from '@sigstore/verify';
import type { GithubClaims, KeylessIdentity } from '../policy/types.js';
import { FULCIO_OID, GITHUB } from './constants.js';

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** `^(?:pattern)$`: the whole value must match. */
export function anchored(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

export function exactly(value: string): RegExp {
  return new RegExp(`^${escapeRegExp(value)}$`);
}

/** The SAN and exact issuer as @sigstore/verify checks them; issuerRegexp and GitHub claims are checked in `claimsMismatch`. */
export function libraryPolicy(id: KeylessIdentity): VerificationPolicy {
  const policy: VerificationPolicy = {};
  if (id.identity !== undefined) policy.subjectAlternativeName = exactly(id.identity);
  else if (id.identityRegexp !== undefined) policy.subjectAlternativeName = anchored(id.identityRegexp);
  if (id.issuer !== undefined) policy.extensions = { issuer: id.issuer };
  return policy;
}

/** Whose workflows a GitHub-claims identity without identity/identityRegexp accepts (gh attestation verify's default SAN). */
function githubSigner(gh: GithubClaims | undefined): string | undefined {
  if (gh?.signerWorkflow !== undefined) return `the workflow ${GITHUB.url}/${gh.signerWorkflow}`;
  const scope = gh?.signerRepository ?? gh?.repository ?? gh?.owner;
  return scope !== undefined ? `any workflow of ${GITHUB.url}/${scope}` : undefined;
}

export function describeIdentity(id: KeylessIdentity): string {
  const who = id.identity ?? (id.identityRegexp !== undefined ? `/${id.identityRegexp}/` : (githubSigner(id.github) ?? '(any identity)'));
  const iss = id.issuer ?? (id.issuerRegexp !== undefined ? `/${id.issuerRegexp}/` : '(any issuer)');
  const gh = id.github ? Object.entries(id.github).map(([k, v]) => `${k}=${v}`) : [];
  return [`${who} from ${iss}`, ...gh].join(', ');
}

export interface FoundIdentity {
  identity?: string;
  issuer?: string;
  /** Fulcio extensions by dotted OID, decoded to text. */
  claims: Record<string, string>;
}

/** A Fulcio extension value as text: V1 extensions are raw UTF-8, V2 (…1.8 onward) a DER UTF8String. */
function extensionText(value: Buffer): string {
  if (value[0] === 0x0c && value.length >= 2) {
    const first = value[1]!;
    // DER length: short form (< 128), or long form 0x81/0x82 followed by the length (a URI may exceed 127 bytes).
    const octets = first < 0x80 ? 0 : first & 0x7f;
    if (octets <= 2) {
      const len = octets === 0 ? first : value.subarray(2, 2 + octets).reduce((n, b) => n * 256 + b, 0);
      if (value.length === 2 + octets + len) return value.subarray(2 + octets).toString('utf8');
    }
  }
  return value.toString('utf8');
}

export function foundIdentity(signer: Signer): FoundIdentity {
  const claims: Record<string, string> = {};
  for (const o of signer.identity?.oids ?? []) {
    if (o.oid?.id) claims[o.oid.id.join('.')] = extensionText(Buffer.from(o.value));
  }
  return { identity: signer.identity?.subjectAlternativeName, issuer: signer.identity?.extensions?.issuer, claims };
}

const sameName = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();

/** Why the identity (SAN) is not a workflow `gh` semantics accept, or undefined; only for a GitHub-claims identity. */
function signerMismatch(id: KeylessIdentity, gh: GithubClaims, san: string): string | undefined {
  if (gh.signerWorkflow !== undefined) {
    // The workflow file at any ref: https://github.com/OWNER/REPO/.github/workflows/x.yml@refs/…
    const want = `${GITHUB.url}/${gh.signerWorkflow}`;
    return san === want || san.startsWith(`${want}@`) ? undefined : `signer workflow (certificate identity) is ${san || '(none)'}, expected ${want}@<ref>`;
  }
  // Owner and repository names are case-insensitive on GitHub, and to gh.
  const inScope = (scope: string) => san.toLowerCase().startsWith(`${GITHUB.url}/${scope}/`.toLowerCase());
  if (gh.signerRepository !== undefined) return inScope(gh.signerRepository) ? undefined : `signer (certificate identity) ${san || '(none)'} is not a workflow of ${GITHUB.url}/${gh.signerRepository}`;
  if (id.identity !== undefined || id.identityRegexp !== undefined) return undefined;
  const scope = gh.repository ?? gh.owner;
  if (scope === undefined) return undefined;
  return inScope(scope) ? undefined : `signer (certificate identity) ${san || '(none)'} is not a workflow of ${GITHUB.url}/${scope}`;
}

/** What `issuerRegexp` and `github` ask that the certificate does not carry; undefined when all match. */
export function claimsMismatch(id: KeylessIdentity, found: FoundIdentity): string | undefined {
  if (id.issuerRegexp !== undefined && !anchored(id.issuerRegexp).test(found.issuer ?? '')) {
    return `issuer ${found.issuer ?? '(none)'} does not match /${id.issuerRegexp}/`;
  }
  const gh = id.github;
  if (!gh) return undefined;
  const c = found.claims;
  const bad: string[] = [];
  if (gh.repository !== undefined) {
    // The legacy extension (owner/name) and the Source Repository URI (what gh --repo checks): each one present must name it.
    const legacy = c[FULCIO_OID.githubWorkflowRepository];
    const uri = c[FULCIO_OID.sourceRepositoryUri];
    const legacyOk = legacy === undefined || sameName(legacy, gh.repository);
    const uriOk = uri === undefined || sameName(uri, `${GITHUB.url}/${gh.repository}`);
    if ((legacy === undefined && uri === undefined) || !legacyOk || !uriOk) {
      const uriName = uri?.startsWith(`${GITHUB.url}/`) ? uri.slice(GITHUB.url.length + 1) : uri;
      bad.push(`GitHub repository is ${(legacyOk && !uriOk ? uriName : legacy) ?? uriName ?? '(absent)'}, expected ${gh.repository}`);
    }
  }
  if (gh.owner !== undefined) {
    const owner = c[FULCIO_OID.sourceRepositoryOwnerUri];
    if (!sameName(owner, `${GITHUB.url}/${gh.owner}`)) bad.push(`GitHub owner (Source Repository Owner URI) is ${owner ?? '(absent)'}, expected ${GITHUB.url}/${gh.owner}`);
  }
  const legacy: Array<[string, string | undefined, boolean, string]> = [
    ['ref', gh.ref, c[FULCIO_OID.githubWorkflowRef] === gh.ref, FULCIO_OID.githubWorkflowRef],
    ['sha', gh.sha, c[FULCIO_OID.githubWorkflowSha] === gh.sha, FULCIO_OID.githubWorkflowSha],
    // The workflow name (OID …1.4), or the workflow file as it appears in the SAN of a GitHub certificate.
    ['workflow', gh.workflow, c[FULCIO_OID.githubWorkflowName] === gh.workflow || (found.identity ?? '').includes(`/.github/workflows/${gh.workflow}@`), FULCIO_OID.githubWorkflowName],
  ];
  for (const [k, want, ok, oid] of legacy) if (want !== undefined && !ok) bad.push(`GitHub ${k} is ${c[oid] ?? '(absent)'}, expected ${want}`);
  const signer = signerMismatch(id, gh, found.identity ?? '');
  if (signer) bad.push(signer);
  if (gh.runner !== undefined && c[FULCIO_OID.runnerEnvironment] !== gh.runner) {
    bad.push(`runner environment is ${c[FULCIO_OID.runnerEnvironment] ?? '(absent)'}, expected ${gh.runner} (a self-hosted runner is refused)`);
  }
  return bad.length ? bad.join('; ') : undefined;
}
