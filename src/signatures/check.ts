/**
 * The signature and attestation checks of one resolved image: discovery, verification against the
 * requirement's signers, findings. The only network use is the registry; the trusted root is local.
 *
 *   const { findings } = await signatureChecks(client, image, req, { trustedRoot });
 */
import type { AttestationRequirement, AttestationsRequirement, EffectiveRequirements, Origin, SignaturesRequirement } from '../policy/types.js';
import type { RegistryClient } from '../registry/client.js';
import type { Finding, ResolvedImage, Subject } from '../types.js';
import { readStatement, matchDigest } from './binding.js';
import { coveredDigests } from './coverage.js';
import { discover } from './discover.js';
import { evaluate } from './evaluate.js';
import { attestationFindings, provenanceMismatch, signatureFindings, type AttestationResult } from './findings.js';
import { signerSpecs } from './signers.js';
import { loadTrustedRoot, type TrustOptions } from './trust.js';
import type { Candidate, Discovery } from './types.js';
import type { VerifyContext } from './verify.js';

export interface SignatureCheckOptions extends TrustOptions {
  /**
   * A signer requirement from outside the policy (the cosign-style flags of `verify`): checked for
   * every image IN ADDITION to the policy's signatures group, and enforced whatever that group's
   * mode, so flags can only tighten a policy.
   */
  extraSignatures?: { value: SignaturesRequirement; origin: Origin };
  /**
   * Attestations from outside the policy (the gh-style `--attestation-*` flags of `verify`): checked for every image
   * in addition to the policy's attestations group, and enforced whatever that group's mode.
   */
  extraAttestations?: { value: AttestationsRequirement; origin: Origin };
}

export interface SignatureCheckResult {
  findings: Finding[];
  /** Absent when the requirements asked for nothing. */
  discovery?: Discovery;
}

/** The digests that are this image: the one the tag points to and every platform manifest hosts pull. */
function deployedDigests(subject: Subject): string[] {
  return [...new Set([subject.digest, ...(subject.platformDigest ? [subject.platformDigest] : []), ...Object.values(subject.platformDigests)])];
}

async function attestationResult(a: AttestationRequirement, candidates: Candidate[], ctx: VerifyContext): Promise<AttestationResult> {
  const result: AttestationResult = { requirement: a, unsigned: [], failures: [], covers: new Map(), otherTypes: [] };
  // Which deployed digests each satisfying statement is about: coverage.ts asks it of every targeted platform.
  const satisfied = (source: string, digests: string[]) => {
    result.satisfiedBy ??= source;
    for (const d of digests) result.covers.set(d, (result.covers.get(d) ?? new Set()).add(source));
  };
  const deployed = (subjects: string[]) => subjects.filter((d) => ctx.digests.includes(d));
  const matching = candidates.filter((c) => c.kind === 'attestation' && c.predicateType !== undefined && a.predicateTypes.includes(c.predicateType));
  // What else is there, for a finding that says which predicate type was found instead.
  result.otherTypes = [...new Set(candidates.filter((c) => c.kind === 'attestation' && c.predicateType !== undefined && !matching.includes(c)).map((c) => c.predicateType!))];
  // A keyless signer may be named by its GitHub claims alone (no identity): it is a signer all the same.
  const spec = a.signedBy ? (await signerSpecs(a.signedBy.key ? [a.signedBy.key] : [], a.signedBy.key ? [] : [a.signedBy]))[0] : undefined;
  for (const c of matching) {
    if (!c.bundle) {
      if (spec) {
        result.unsigned.push(c.source);
        continue;
      }
      // Presence only: an unsigned statement is as good as any other when no signer is required.
      const s = c.statement ? readStatement(c.statement) : undefined;
      if (!s?.ok) result.failures.push(`${c.source}: ${c.malformed ?? 'unreadable statement'}`);
      else if (!matchDigest(s.value.subjectDigests, ctx.digests)) result.failures.push(`${c.source}: for ${s.value.subjectDigests.join(', ')}, not this image`);
      else {
        const bad = provenanceMismatch(a, s.value.predicate);
        if (bad) result.failures.push(`${c.source}: ${bad}`);
        else satisfied(`${c.source} (unsigned)`, deployed(s.value.subjectDigests));
      }
      continue;
    }
    if (!spec) {
      // Without signedBy a signed attestation counts by presence too (its statement is still bound to the digest).
      const s = c.statement ? readStatement(c.statement) : undefined;
      if (s?.ok && matchDigest(s.value.subjectDigests, ctx.digests) && !provenanceMismatch(a, s.value.predicate)) satisfied(c.source, deployed(s.value.subjectDigests));
      else result.failures.push(`${c.source}: ${s?.ok ? (provenanceMismatch(a, s.value.predicate) ?? 'for another image') : 'unreadable statement'}`);
      continue;
    }
    const ev = evaluate([c], [spec], ctx);
    const o = ev.tried[0]!.outcome;
    if (!o.ok) {
      result.failures.push(`${c.source}: ${o.reason}${o.found ? ` [found ${o.found.identity} from ${o.found.issuer}]` : ''}`);
      continue;
    }
    const bad = provenanceMismatch(a, o.statement?.predicate);
    if (bad) result.failures.push(`${c.source}: ${bad}`);
    else satisfied(`${c.source} (${spec.label})`, coveredDigests(o, ctx.digests));
  }
  if (result.satisfiedBy) result.failures = [];
  return result;
}

function referenceSettings(r: SignaturesRequirement): Pick<VerifyContext, 'reference' | 'allowedReferences'> {
  return { ...(r.reference ? { reference: r.reference } : {}), ...(r.allowedReferences ? { allowedReferences: r.allowedReferences } : {}) };
}

export async function signatureChecks(client: RegistryClient, image: ResolvedImage, req: EffectiveRequirements, opts: SignatureCheckOptions = {}): Promise<SignatureCheckResult> {
  const { target, resolution } = image;
  const sig = req.groups.signatures?.value;
  const att = req.groups.attestations?.value;
  const sigReqs: Array<{ value: SignaturesRequirement; own?: NonNullable<Finding['requirement']> }> = [];
  if (sig && sig.mode !== 'off') sigReqs.push({ value: sig });
  if (opts.extraSignatures) sigReqs.push({ value: opts.extraSignatures.value, own: { mode: 'enforce', origin: opts.extraSignatures.origin } });
  const wantSig = sigReqs.length > 0;
  const attReqs: Array<{ value: AttestationsRequirement; own?: NonNullable<Finding['requirement']> }> = [];
  if (att && att.mode !== 'off' && att.require.length > 0) attReqs.push({ value: att });
  if (opts.extraAttestations?.value.require.length) attReqs.push({ value: opts.extraAttestations.value, own: { mode: 'enforce', origin: opts.extraAttestations.origin } });
  const wantAtt = attReqs.length > 0;
  if (!wantSig && !wantAtt) return { findings: [] };
  const { root } = await loadTrustedRoot(opts);
  const digests = deployedDigests(image);
  const discovery = await discover(client, {
    registry: image.registry,
    repository: image.repository,
    digests,
    ...(resolution.index ? { index: resolution.index } : {}),
    ...(sig?.repository ? { signatureRepository: sig.repository } : {}),
    want: { signatures: wantSig, attestations: wantAtt },
  });
  // What a docker-reference may name under signatures.reference: match: the image's own repository (signatures kept in
  // signatures.repository still name the image, as cosign writes them), or one of the requirement's allowedReferences.
  const repositories = [`${image.registry}/${image.repository}`];
  const findings: Finding[] = [];
  for (const { value, own } of sigReqs) {
    const specs = await signerSpecs(value.keys, value.keyless);
    const ctx: VerifyContext = { root, tlog: value.tlog, digests, repositories, ...referenceSettings(value) };
    const ev = evaluate(
      discovery.candidates.filter((c) => c.kind === 'signature'),
      specs,
      ctx,
    );
    const found = signatureFindings(target, image, value, specs, ev, discovery);
    findings.push(...(own ? found.map((f) => ({ ...f, message: `${f.message} (required by the ${own.origin.rule})`, requirement: own })) : found));
  }
  if (wantAtt) {
    // Attestations have no tlog setting of their own: the signatures group's, else required.
    const ctx: VerifyContext = { root, tlog: sig?.tlog ?? 'required', digests, repositories, ...(sig ? referenceSettings(sig) : {}) };
    for (const { value, own } of attReqs) {
      const results: AttestationResult[] = [];
      for (const a of value.require) results.push(await attestationResult(a, discovery.candidates, ctx));
      const found = attestationFindings(target, image, results, discovery);
      findings.push(...(own ? found.map((f) => ({ ...f, message: `${f.message} (required by the ${own.origin.rule})`, requirement: own })) : found));
    }
  }
  return { findings, discovery };
}
