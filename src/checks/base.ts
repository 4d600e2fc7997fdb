/**
 * The base-image check (`base` requirements): identify the base, then hold its age, its staleness
 * and its name against the policy. Findings carry the numbers and where each came from; the base
 * tags it observed go to the ledger, and its summary to the report.
 */
import { globMatch } from '../policy/glob.js';
import { baseAge, findBase } from '../provenance/index.js';
import type { BaseAge, BaseDiscovery } from '../provenance/types.js';
import { DEFAULT_PLATFORM } from '../registry/client.js';
import { parseReference } from '../registry/reference.js';
import type { BaseSummary, Finding, Target } from '../types.js';
import { days } from './image-age.js';
import type { ImageCheck } from './types.js';

function summarize(d: BaseDiscovery, age: BaseAge | undefined): BaseSummary {
  const s: BaseSummary = { source: d.source, evidence: [...d.evidence, ...(age?.evidence ?? [])] };
  if (d.name) s.name = d.name;
  if (d.digest) s.digest = d.digest;
  if (d.confirmedByLayers !== undefined) s.confirmedByLayers = d.confirmedByLayers;
  if (age?.created) {
    s.created = age.created.time;
    s.createdSource = age.created.source;
    s.ageDays = days(age.created.ageMs);
  }
  if (age?.staleness?.newerSince) {
    s.newerSince = age.staleness.newerSince.time;
    s.staleDays = days(age.staleness.newerSince.ageMs);
  }
  const newer = [...(age?.releases?.patch ?? []), ...(age?.releases?.minor ?? [])];
  if (newer.length) s.newerReleases = newer;
  return s;
}

const NAMED_BY: Record<BaseDiscovery['source'], string> = {
  annotation: 'its org.opencontainers.image.base.name/.digest annotation or label',
  provenance: 'its build provenance',
  buildpacks: 'its buildpacks run-image metadata',
  layers: 'a policy candidate',
  unknown: 'nothing',
};

/**
 * base.unconfirmed: a base that a source names but whose layers were not found to begin the
 * image's. Counted like base.unknown (`base.unknown` in the policy): a claim nobody could check is
 * no more known than no claim.
 */
function unconfirmed(target: Target, d: BaseDiscovery, shown: string, ledger: boolean): Pick<Finding, 'rule' | 'severity' | 'message' | 'remedy'> {
  const named = `${target.ref} names ${shown} as its base (from ${NAMED_BY[d.source]})`;
  if (d.confirmedByLayers === false) {
    const why = d.digest
      ? `but the layers of ${shown.replace(/@.*$/, '')}@${d.digest} are not the first layers of the image`
      : `but no image the tag points to now${ledger ? ', nor any digest the ledger saw it point to before,' : ''} has layers that begin the image's`;
    return {
      rule: 'base.unconfirmed',
      severity: 'medium',
      message: `${named}, ${why}: the base is not confirmed, so its age and staleness are not the image's`,
      remedy: `find what ${target.ref.replace(/[:@].*$/, '')} is really built FROM and name it (with org.opencontainers.image.base.digest, which survives the tag moving); or, if the tag moved since the build, record it in a ledger (kamal-gate record) so earlier digests are tried; or waive base.unconfirmed with a policy exception`,
    };
  }
  const cause = [...d.evidence].reverse().find((l) => /^could not fetch|diff_ids|no usable base name/.test(l));
  return {
    rule: 'base.unconfirmed',
    severity: 'medium',
    message: `${named}, but its layers could not be compared with the image's${cause ? ` (${cause})` : ''}: the base is not confirmed`,
    remedy: `make the base fetchable from here (registry reachable, credentials for it) and name it with org.opencontainers.image.base.name, so its layers can be compared; or waive base.unconfirmed with a policy exception`,
  };
}

export const baseCheck: ImageCheck = {
  name: 'base image',
  on: 'image',
  async run(image, ctx) {
    const base = ctx.requirements.groups.base?.value;
    if (!base || base.mode === 'off') return { findings: [] };
    const { target, resolution: r } = image;
    const ledger = ctx.ledger ? { ledger: ctx.ledger } : {};
    const discovery = await findBase(ctx.client, r, { candidates: base.candidates, platform: r.platform ?? DEFAULT_PLATFORM, ...ledger });
    const findings: Finding[] = [];
    const common = { target, digest: r.digest };
    if (discovery.source === 'unknown') {
      if (base.unknown !== 'ignore') {
        findings.push({
          ...common,
          rule: 'base.unknown',
          severity: 'medium',
          message: `the base image of ${target.ref} could not be identified`,
          remedy: 'build with the org.opencontainers.image.base.name/.digest annotations (or labels) or with BuildKit provenance, or name candidate bases in the policy (base.candidates)',
          evidence: { tried: discovery.evidence },
        });
      }
      return { findings, base: summarize(discovery, undefined) };
    }
    const age = await baseAge(ctx.client, discovery, { ...ledger, now: ctx.now });
    const summary = summarize(discovery, age);
    const shown = discovery.name ?? discovery.digest ?? 'the base';
    const evidence = { base: shown, baseDigest: discovery.digest ?? null, source: discovery.source, ...(summary.newerReleases ? { newerReleases: summary.newerReleases } : {}) };
    if (discovery.confirmedByLayers !== true && base.unknown !== 'ignore') {
      findings.push({
        ...common,
        ...unconfirmed(target, discovery, shown, !!ctx.ledger),
        evidence: { ...evidence, confirmedByLayers: discovery.confirmedByLayers ?? null, tried: discovery.evidence },
      });
    }
    if (base.allowed && discovery.name) {
      let repository: string | undefined;
      try {
        const p = parseReference(discovery.name);
        repository = `${p.registry}/${p.repository}`;
      } catch {
        repository = undefined;
      }
      if (!repository || !base.allowed.some((g) => globMatch('repository', g, repository!))) {
        findings.push({
          ...common,
          rule: 'base.not_allowed',
          severity: 'high',
          message: `${target.ref} is built on ${shown}, which is not among the allowed bases (${base.allowed.join(', ')})`,
          remedy: 'rebuild FROM an allowed base, or add it to base.allowed in the policy',
          evidence: { ...evidence, allowed: base.allowed },
        });
      }
    }
    if (base.maxAge && age.created && age.created.ageMs > base.maxAge.ms) {
      findings.push({
        ...common,
        rule: 'base.too_old',
        severity: 'high',
        message: `${target.ref} is built on ${shown}, created ${age.created.time} (${days(age.created.ageMs)} days ago, from its ${age.created.source}); the policy allows ${base.maxAge.text}`,
        remedy: `rebuild on a current ${shown.replace(/@.*$/, '')}${summary.newerReleases ? ` (newer: ${summary.newerReleases.join(', ')})` : ''}`,
        evidence: { ...evidence, created: age.created.time, createdSource: age.created.source, ageDays: days(age.created.ageMs), maxAge: base.maxAge.text },
      });
    }
    const newer = age.staleness?.newerSince;
    if (base.maxStaleness && age.staleness?.moved && newer && newer.ageMs > base.maxStaleness.ms) {
      findings.push({
        ...common,
        rule: 'base.stale',
        severity: 'medium',
        message: `${age.staleness.tag} has pointed to a newer image since ${newer.time} (${days(newer.ageMs)} days, from its ${newer.source}); ${target.ref} is still built on ${shown}; the policy allows ${base.maxStaleness.text}`,
        remedy: `rebuild ${target.ref.replace(/[:@].*$/, '')} to pick up the newer base`,
        evidence: { ...evidence, baseTag: age.staleness.tag, digestNow: age.staleness.digestNow, newerSince: newer.time, staleDays: days(newer.ageMs), maxStaleness: base.maxStaleness.text },
      });
    }
    return { findings, entries: age.ledgerEntries, base: summary };
  },
};
