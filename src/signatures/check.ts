/**
 * The signature and attestation checks of one resolved image: discovery, verification against the
 * requirement's signers, findings. The only network use is the registry; the trusted root is local.
 *
 * With the content cache, a run remembers where what satisfied the requirements was found
 * (memo.ts) and the next run looks there first, asking the registry again about each of those
 * places. Only when they satisfy every requirement is that the verdict: more places can only add
 * signatures, never take a valid one away, so the full discovery would pass too. Whatever they do
 * not satisfy is looked for everywhere (narrowed by one tag list of the signature repository when
 * it was small); a requirement in enforce mode that still fails is looked for again in every place
 * one by one, so a tag list that lags behind never fails a deploy.
 *
 *   const { findings } = await signatureChecks(client, image, req, { trustedRoot });
 */
import type { AttestationRequirement, AttestationsRequirement, EffectiveRequirements, Origin, SignaturesRequirement } from '../policy/types.js';
import type { RegistryClient } from '../registry/client.js';
import { parseReference } from '../registry/reference.js';
import type { Finding, ResolvedImage, Subject } from '../types.js';
import { readStatement, matchDigest } from './binding.js';
import { coveredDigests } from './coverage.js';
import { allPlaces, discover, discoverPlaces, placeKey, type DiscoverInput } from './discover.js';
import { evaluate } from './evaluate.js';
import { attestationFindings, provenanceMismatch, signatureFindings, type AttestationResult } from './findings.js';
import { signerSpecs } from './signers.js';
import { loadTrustedRoot, type TrustOptions } from './trust.js';
import { memoName, readMemo, writeMemo, type Memo } from './memo.js';
import type { Candidate, Discovery, Place } from './types.js';
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

async function attestationResult(a: AttestationRequirement, candidates: Candidate[], ctx: VerifyContext, places: Place[]): Promise<AttestationResult> {
  const result: AttestationResult = { requirement: a, unsigned: [], failures: [], covers: new Map(), otherTypes: [] };
  // Which deployed digests each satisfying statement is about: coverage.ts asks it of every targeted platform.
  let current: Candidate | undefined;
  const satisfied = (source: string, digests: string[]) => {
    if (current?.place) places.push(current.place);
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
    current = c;
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

/** Tag lists longer than this are not read to narrow a re-check (a note remembers the length). */
const MAX_LISTED_TAGS = 1000;

type SigReq = { value: SignaturesRequirement; own?: NonNullable<Finding['requirement']> };
type AttReq = { value: AttestationsRequirement; own?: NonNullable<Finding['requirement']> };

/** The findings of one set of candidates, and what they leave unsatisfied. */
interface Verdict {
  findings: Finding[];
  /** Where the candidates that satisfied (part of) a requirement were found. */
  places: Place[];
  sigUnsatisfied: boolean;
  attUnsatisfied: boolean;
  /** A requirement in enforce mode is not satisfied. */
  enforceUnsatisfied: boolean;
}

interface Judge {
  (d: Discovery): Promise<Verdict>;
}

/** Discoveries of one run, one after the other, as one. */
function merge(a: Discovery, b: Discovery): Discovery {
  const seen = new Set<string>();
  const candidates = [...a.candidates, ...b.candidates].filter((c) => !seen.has(`${c.attachedTo}|${c.source}`) && !!seen.add(`${c.attachedTo}|${c.source}`));
  const ignored = [...(a.ignored ?? []), ...(b.ignored ?? [])];
  const ignoredCount = (a.ignoredCount ?? 0) + (b.ignoredCount ?? 0);
  const truncated = a.truncated ?? b.truncated;
  return {
    candidates,
    formats: [...new Set(candidates.filter((c) => !c.malformed || c.bundle).map((c) => c.format))],
    searched: [...a.searched, ...b.searched],
    requests: a.requests + b.requests,
    places: [...a.places, ...b.places],
    ...(truncated ? { truncated } : {}),
    ...(ignoredCount ? { ignored: ignored.slice(0, 20), ignoredCount } : {}),
  };
}

/** Every tag of the signature repository, or undefined when the registry does not list them. */
async function tagList(client: RegistryClient, input: DiscoverInput): Promise<Set<string> | undefined> {
  const repo = input.signatureRepository ? parseReference(input.signatureRepository) : { registry: input.registry, repository: input.repository };
  try {
    return new Set(await client.listTags(repo));
  } catch {
    return undefined;
  }
}

/**
 * Discovery with the memo: its places first; what they leave unsatisfied, everywhere (see the file
 * comment). Returns the discovery, its verdict, and the memo to keep.
 */
async function withMemo(client: RegistryClient, input: DiscoverInput, memo: Memo, judge: Judge): Promise<{ discovery: Discovery; verdict: Verdict; tags?: number }> {
  let discovery = await discoverPlaces(client, input, memo.places);
  let verdict = await judge(discovery);
  if (!verdict.sigUnsatisfied && !verdict.attUnsatisfied) return { discovery, verdict };
  const tags = memo.tags !== undefined && memo.tags > MAX_LISTED_TAGS ? undefined : await tagList(client, input);
  const want = { signatures: input.want.signatures && verdict.sigUnsatisfied, attestations: input.want.attestations && verdict.attUnsatisfied };
  const rest = await discover(client, { ...input, want, skip: new Set(discovery.places.map(placeKey)), ...(tags && tags.size <= MAX_LISTED_TAGS ? { tags } : {}) });
  discovery = merge(discovery, rest);
  verdict = await judge(discovery);
  if (tags && verdict.enforceUnsatisfied) {
    // A failure in enforce mode is never concluded from a tag list: every place, looked up one by one.
    discovery = await discover(client, input);
    verdict = await judge(discovery);
  }
  return { discovery, verdict, ...(tags ? { tags: tags.size } : {}) };
}

export async function signatureChecks(client: RegistryClient, image: ResolvedImage, req: EffectiveRequirements, opts: SignatureCheckOptions = {}): Promise<SignatureCheckResult> {
  const { target, resolution } = image;
  const sig = req.groups.signatures?.value;
  const att = req.groups.attestations?.value;
  const sigReqs: SigReq[] = [];
  if (sig && sig.mode !== 'off') sigReqs.push({ value: sig });
  if (opts.extraSignatures) sigReqs.push({ value: opts.extraSignatures.value, own: { mode: 'enforce', origin: opts.extraSignatures.origin } });
  const wantSig = sigReqs.length > 0;
  const attReqs: AttReq[] = [];
  if (att && att.mode !== 'off' && att.require.length > 0) attReqs.push({ value: att });
  if (opts.extraAttestations?.value.require.length) attReqs.push({ value: opts.extraAttestations.value, own: { mode: 'enforce', origin: opts.extraAttestations.origin } });
  const wantAtt = attReqs.length > 0;
  if (!wantSig && !wantAtt) return { findings: [] };
  const { root } = await loadTrustedRoot(opts);
  const digests = deployedDigests(image);
  const input: DiscoverInput = {
    registry: image.registry,
    repository: image.repository,
    digests,
    ...(resolution.index ? { index: resolution.index } : {}),
    ...(sig?.repository ? { signatureRepository: sig.repository } : {}),
    want: { signatures: wantSig, attestations: wantAtt },
  };
  // What a docker-reference may name under signatures.reference: match: the image's own repository (signatures kept in
  // signatures.repository still name the image, as cosign writes them), or one of the requirement's allowedReferences.
  const repositories = [`${image.registry}/${image.repository}`];
  const judge: Judge = async (discovery) => {
    const v: Verdict = { findings: [], places: [], sigUnsatisfied: false, attUnsatisfied: false, enforceUnsatisfied: false };
    const unsatisfied = (kind: 'sig' | 'att', enforce: boolean) => {
      if (kind === 'sig') v.sigUnsatisfied = true;
      else v.attUnsatisfied = true;
      if (enforce) v.enforceUnsatisfied = true;
    };
    for (const { value, own } of sigReqs) {
      const specs = await signerSpecs(value.keys, value.keyless);
      const ctx: VerifyContext = { root, tlog: value.tlog, digests, repositories, ...referenceSettings(value) };
      const ev = evaluate(
        discovery.candidates.filter((c) => c.kind === 'signature'),
        specs,
        ctx,
      );
      for (const t of ev.tried) if (t.outcome.ok && t.candidate.place) v.places.push(t.candidate.place);
      const found = signatureFindings(target, image, value, specs, ev, discovery);
      if (found.some((f) => f.severity !== 'info')) unsatisfied('sig', !!own || value.mode !== 'warn');
      v.findings.push(...(own ? found.map((f) => ({ ...f, message: `${f.message} (required by the ${own.origin.rule})`, requirement: own })) : found));
    }
    if (wantAtt) {
      // Attestations have no tlog setting of their own: the signatures group's, else required.
      const ctx: VerifyContext = { root, tlog: sig?.tlog ?? 'required', digests, repositories, ...(sig ? referenceSettings(sig) : {}) };
      for (const { value, own } of attReqs) {
        const results: AttestationResult[] = [];
        for (const a of value.require) results.push(await attestationResult(a, discovery.candidates, ctx, v.places));
        const found = attestationFindings(target, image, results, discovery);
        if (found.some((f) => f.severity !== 'info')) unsatisfied('att', !!own || value.mode !== 'warn');
        v.findings.push(...(own ? found.map((f) => ({ ...f, message: `${f.message} (required by the ${own.origin.rule})`, requirement: own })) : found));
      }
    }
    return v;
  };

  const cache = client.cache?.enabled ? client.cache : undefined;
  const name = cache
    ? await memoName(
        input,
        sigReqs.map((r) => r.value),
        attReqs.map((r) => r.value),
      )
    : undefined;
  const memo = cache && name ? await readMemo(cache, name) : undefined;
  let result: { discovery: Discovery; verdict: Verdict; tags?: number };
  if (memo) result = await withMemo(client, input, memo, judge);
  else {
    const discovery = await discover(client, input);
    result = { discovery, verdict: await judge(discovery) };
  }
  if (cache && name) {
    const tags = result.tags ?? memo?.tags;
    const known = new Set(allPlaces(input).map(placeKey));
    await writeMemo(cache, name, { places: result.verdict.places.filter((p) => known.has(placeKey(p))), ...(tags !== undefined ? { tags } : {}) });
  }
  return { findings: result.verdict.findings, discovery: result.discovery };
}
