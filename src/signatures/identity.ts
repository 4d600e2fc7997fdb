/**
 * Keyless identities: the policy given to @sigstore/verify, and what a certificate says for messages.
 * The library treats the SAN as an UNANCHORED regular expression, even a plain string (notes §0.7),
 * so every pattern is anchored here, and exact identities are escaped.
 */
import type { Signer, VerificationPolicy } from '@sigstore/verify';
import type { KeylessIdentity } from '../policy/types.js';
import { FULCIO_OID } from './constants.js';

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

export function describeIdentity(id: KeylessIdentity): string {
  const who = id.identity ?? (id.identityRegexp !== undefined ? `/${id.identityRegexp}/` : '(any identity)');
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
    const len = value[1]!;
    if (len < 0x80 && value.length === len + 2) return value.subarray(2).toString('utf8');
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

/** What `issuerRegexp` and `github` ask that the certificate does not carry; undefined when all match. */
export function claimsMismatch(id: KeylessIdentity, found: FoundIdentity): string | undefined {
  if (id.issuerRegexp !== undefined && !anchored(id.issuerRegexp).test(found.issuer ?? '')) {
    return `issuer ${found.issuer ?? '(none)'} does not match /${id.issuerRegexp}/`;
  }
  const gh = id.github;
  if (!gh) return undefined;
  const c = found.claims;
  const checks: Array<[string, string | undefined, boolean]> = [
    ['repository', gh.repository, c[FULCIO_OID.githubWorkflowRepository] === gh.repository],
    ['ref', gh.ref, c[FULCIO_OID.githubWorkflowRef] === gh.ref],
    ['sha', gh.sha, c[FULCIO_OID.githubWorkflowSha] === gh.sha],
    // The workflow name (OID …1.4), or the workflow file as it appears in the SAN of a GitHub certificate.
    ['workflow', gh.workflow, c[FULCIO_OID.githubWorkflowName] === gh.workflow || (found.identity ?? '').includes(`/.github/workflows/${gh.workflow}@`)],
  ];
  const bad = checks.filter(([, want, ok]) => want !== undefined && !ok);
  if (!bad.length) return undefined;
  const oid: Record<string, string> = { repository: FULCIO_OID.githubWorkflowRepository, ref: FULCIO_OID.githubWorkflowRef, sha: FULCIO_OID.githubWorkflowSha, workflow: FULCIO_OID.githubWorkflowName };
  return bad.map(([k, want]) => `GitHub ${k} is ${c[oid[k]!] ?? '(absent)'}, expected ${want}`).join('; ');
}
