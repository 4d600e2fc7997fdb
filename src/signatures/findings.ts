/**
 * Findings from an evaluation: what was found and what was expected, and where it was looked for.
 * Severity: critical for a signature that is there but wrong (invalid, untrusted, for another
 * digest, without the required log entry), high for one that is missing.
 */
import type { AttestationRequirement, SignaturesRequirement } from '../policy/types.js';
import type { Finding, Severity, Subject, Target } from '../types.js';
import { uncoveredPlatforms, type PlatformGap } from './coverage.js';
import type { Evaluation, Tried } from './evaluate.js';
import type { SignerSpec } from './signers.js';
import type { Discovery } from './types.js';
import type { Failure } from './verify.js';

const REMEDY: Record<Failure | 'missing', string> = {
  missing: 'sign the image digest in the release pipeline (cosign sign --key … or keyless) and push the signature to the registry',
  invalid: 'the signature does not verify over what it claims to sign: re-sign the image; if nobody re-signed, treat the registry content as tampered',
  untrusted_key: "sign with a key the policy lists (signatures.keys), or add the signer's public key to the policy",
  untrusted_identity: 'sign from the identity the policy names, or correct signatures.keyless (identity and issuer)',
  digest_mismatch: 'the signature is for another image (e.g. copied from an older build): sign this digest',
  no_tlog: 'sign with the Rekor transparency log (drop --tlog-upload=false), or set signatures.tlog: optional for key-signed images',
  reference_mismatch:
    'the image was signed under another name (then copied to a mirror or another registry): add that repository to signatures.allowedReferences, sign the image where it is deployed, or set signatures.reference: ignore to bind by digest only, as cosign does',
};

function describe(t: Tried): string {
  const o = t.outcome;
  if (o.ok) return `${t.candidate.source}: valid (${o.signer.label})`;
  const found = o.found ? ` [found ${o.found.identity ?? '?'} from ${o.found.issuer ?? '?'}]` : '';
  return `${t.candidate.source} (${t.candidate.format}): ${o.reason}${found}`;
}

function finding(target: Target, subject: Subject, rule: string, severity: Severity, message: string, remedy: string, evidence: Record<string, unknown>): Finding {
  return { rule, severity, target, digest: subject.digest, message, remedy, evidence };
}

/** The referrers discovery read that were no signatures (an SBOM, another image's referrer), for `signature.missing`. */
function notSignatures(d: Discovery): string {
  const n = d.ignoredCount ?? 0;
  if (!n || !d.ignored) return '';
  return `; ${n} referrer${n === 1 ? '' : 's'} read, none a signature: ${d.ignored.slice(0, 3).join('; ')}${n > 3 ? `; and ${n - 3} more` : ''}`;
}

export function signatureFindings(target: Target, subject: Subject, req: SignaturesRequirement, specs: SignerSpec[], ev: Evaluation, d: Discovery): Finding[] {
  const base = {
    formats: d.formats,
    searched: d.searched,
    expected: specs.map((s) => s.label),
    count: req.count,
    ...(d.truncated ? { truncated: d.truncated } : {}),
    ...(d.ignored ? { ignored: d.ignored } : {}),
  };
  const signers = [...ev.valid.values()].map((t) => (t.outcome.ok ? t.outcome.signer.label : ''));
  if (ev.valid.size >= req.count) {
    const gaps = uncoveredPlatforms(subject, (digest) => ev.signedBy.get(digest), req.count);
    if (gaps.length) return gaps.map((g) => uncoveredFinding(target, subject, req, specs, ev, g, base));
    return [finding(target, subject, 'signature.verified', 'info', `${subject.ref} is signed by ${signers.join(', ')} (formats found: ${d.formats.join(', ')})`, '', { ...base, signers })];
  }
  const out: Finding[] = [];
  const failed = ev.tried.filter((t) => !t.outcome.ok);
  const byRule = new Map<Failure, Tried[]>();
  for (const t of failed) if (!t.outcome.ok) byRule.set(t.outcome.failure, [...(byRule.get(t.outcome.failure) ?? []), t]);
  for (const [failure, list] of byRule) {
    const shown = list.slice(0, 3).map(describe).join('; ') + (list.length > 3 ? `; and ${list.length - 3} more` : '');
    const what: Record<Failure, string> = {
      invalid: 'an invalid signature',
      untrusted_key: 'a signature by a key the policy does not list',
      untrusted_identity: 'a signature by an identity the policy does not list',
      digest_mismatch: 'a signature for another digest',
      no_tlog: 'a signature without the transparency-log entry (or signed timestamp) it needs',
      reference_mismatch: 'a signature naming another repository',
    };
    out.push(
      finding(
        target,
        subject,
        `signature.${failure}`,
        'critical',
        `${subject.ref} (${subject.digest}) carries ${what[failure]}: ${shown}; expected ${specs.map((s) => s.label).join(' or ')}`,
        REMEDY[failure],
        {
          ...base,
          signatures: list.map((t) => ({
            source: t.candidate.source,
            format: t.candidate.format,
            ...(t.outcome.ok
              ? {}
              : {
                  reason: t.outcome.reason,
                  ...(t.outcome.found ? { found: t.outcome.found } : {}),
                  ...(t.outcome.signedDigest ? { signedDigest: t.outcome.signedDigest } : {}),
                  ...(t.outcome.signedReference ? { signedReference: t.outcome.signedReference } : {}),
                  ...(t.outcome.detail ? { libraryError: t.outcome.detail } : {}),
                }),
          })),
          deployed: [subject.digest, ...Object.values(subject.platformDigests)],
        },
      ),
    );
  }
  const sigs = ev.tried.length;
  const message = !sigs
    ? `${subject.ref} (${subject.digest}) has no signature; looked in ${d.searched.join(', ')}${d.formats.length ? ` (found only: ${d.formats.join(', ')})` : ''}${notSignatures(d)}`
    : ev.valid.size
      ? `${subject.ref}: ${ev.valid.size} of the ${req.count} required signers signed (${signers.join(', ')}); expected ${req.count} of ${specs.map((s) => s.label).join(', ')}`
      : undefined;
  if (message) out.unshift(finding(target, subject, 'signature.missing', 'high', message, REMEDY.missing, base));
  return out;
}

/** A targeted platform whose manifest no valid signature covers, while others are signed (coverage.ts). */
function uncoveredFinding(target: Target, subject: Subject, req: SignaturesRequirement, specs: SignerSpec[], ev: Evaluation, g: PlatformGap, base: Record<string, unknown>): Finding {
  const label = (id: string) => specs.find((s) => s.id === id)?.label ?? id;
  const covered = Object.entries(subject.platformDigests)
    .filter(([p]) => p !== g.platform)
    .map(([p, digest]) => `${p} by ${[...new Set([...(ev.signedBy.get(subject.digest) ?? []), ...(ev.signedBy.get(digest) ?? [])])].map(label).join(', ') || 'nobody'}`);
  const there = ev.tried.filter((t) => !t.outcome.ok && t.candidate.attachedTo === g.digest);
  const found = there.length ? `; found on it: ${there.slice(0, 3).map(describe).join('; ')}` : '';
  const short = req.count > 1 && g.by.length ? ` (${g.by.length} of the ${req.count} required signers: ${g.by.map(label).join(', ')})` : '';
  const index = subject.digest !== g.digest ? `, nor has the index ${subject.digest}, which would cover every platform` : '';
  return finding(
    target,
    subject,
    'signature.platform_uncovered',
    'high',
    `${subject.ref}: the ${g.platform} image ${g.digest}, which ${g.platform} hosts pull, has no valid signature by ${specs.map((s) => s.label).join(' or ')}${short}${index}${found}; signed: ${covered.join('; ') || 'nothing else'}`,
    'sign the index digest (it covers every platform), or sign each platform manifest the deploy runs; an index that puts an older signed image beside an unsigned one is refused',
    { ...base, platform: g.platform, platformDigest: g.digest, index: subject.digest, signers: g.by.map(label), platformDigests: subject.platformDigests },
  );
}

/** Checks a verified (or, without signedBy, merely present) provenance statement's builder and source. */
export function provenanceMismatch(req: AttestationRequirement, predicate: unknown): string | undefined {
  const get = (v: unknown, ...path: string[]) => path.reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), v);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  if (req.builderId) {
    const id = str(get(predicate, 'builder', 'id')) ?? str(get(predicate, 'runDetails', 'builder', 'id'));
    if (id !== req.builderId) return `builder.id is ${id ?? '(absent)'}, expected ${req.builderId}`;
  }
  if (req.sourceRepository) {
    const norm = (u: string) =>
      u
        .replace(/^git\+/, '')
        .replace(/^https?:\/\//, '')
        .replace(/@.*$/, '')
        .replace(/\.git$/, '')
        .replace(/\/$/, '')
        .toLowerCase();
    const workflowRepo = str(get(predicate, 'buildDefinition', 'externalParameters', 'workflow', 'repository'));
    const sources = [
      workflowRepo,
      str(get(predicate, 'invocation', 'configSource', 'uri')),
      ...[get(predicate, 'buildDefinition', 'resolvedDependencies'), get(predicate, 'materials')].flatMap((l) => (Array.isArray(l) ? l.slice(0, 1).map((m) => str(get(m, 'uri'))) : [])),
    ].filter((s): s is string => !!s);
    if (!sources.some((s) => norm(s) === norm(req.sourceRepository!))) return `source repository is ${sources[0] ?? '(absent)'}, expected ${req.sourceRepository}`;
  }
  return undefined;
}

export interface AttestationResult {
  requirement: AttestationRequirement;
  /** What satisfies it, when something does. */
  satisfiedBy?: string;
  /** Matching unsigned (BuildKit) attestations, when a signed one was required. */
  unsigned: string[];
  failures: string[];
  /** For each deployed digest, the satisfying statements about it (coverage.ts). */
  covers: Map<string, Set<string>>;
  /** Predicate types of the attestations found that are not the one required. */
  otherTypes: string[];
}

export function attestationFindings(target: Target, subject: Subject, results: AttestationResult[], d: Discovery): Finding[] {
  const out: Finding[] = [];
  for (const r of results) {
    const evidence = {
      type: r.requirement.type,
      predicateTypes: r.requirement.predicateTypes,
      formats: d.formats,
      searched: d.searched,
      unsigned: r.unsigned,
      failures: r.failures,
      ...(r.otherTypes.length ? { otherPredicateTypes: r.otherTypes } : {}),
    };
    if (r.satisfiedBy) {
      for (const g of uncoveredPlatforms(subject, (digest) => r.covers.get(digest))) {
        const index = subject.digest !== g.digest ? ` nor on the index ${subject.digest}` : '';
        out.push(
          finding(
            target,
            subject,
            'attestation.platform_uncovered',
            'high',
            `${subject.ref}: the ${g.platform} image ${g.digest}, which ${g.platform} hosts pull, has no ${r.requirement.type} attestation on it${index}; only ${r.satisfiedBy} holds, for another platform`,
            'attest the index digest (it covers every platform), or each platform manifest the deploy runs',
            { ...evidence, platform: g.platform, platformDigest: g.digest, index: subject.digest, platformDigests: subject.platformDigests },
          ),
        );
      }
      continue;
    }
    if (r.failures.length) {
      out.push(
        finding(
          target,
          subject,
          'attestation.invalid',
          'critical',
          `${subject.ref}: the ${r.requirement.type} attestation does not hold: ${r.failures.slice(0, 3).join('; ')}`,
          'publish the attestation from the expected builder, signed by the identity the policy names',
          evidence,
        ),
      );
    } else {
      const signer = r.requirement.signedBy ? ' signed' : '';
      const unsigned = r.unsigned.length ? ` (found ${r.unsigned.length} unsigned BuildKit attestation(s), which do not satisfy signedBy)` : '';
      const others = r.otherTypes.length
        ? `; found attestations of other predicate types: ${r.otherTypes.slice(0, 5).join(', ')}${r.otherTypes.length > 5 ? `, and ${r.otherTypes.length - 5} more` : ''}`
        : '';
      out.push(
        finding(
          target,
          subject,
          'attestation.missing',
          'high',
          `${subject.ref} (${subject.digest}) has no${signer} ${r.requirement.type} attestation${unsigned}${others}; looked in ${d.searched.join(', ')}`,
          'build with provenance/SBOM attestations (docker buildx --provenance / --sbom, or cosign attest) and push them',
          evidence,
        ),
      );
    }
  }
  return out;
}
