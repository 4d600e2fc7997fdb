/**
 * The ledger check: every resolved tag is compared with the digest the ledger approved for it.
 * Approval comes only from `kamal-gate record` (the build pipeline) or from first use; what verify
 * and drift observe is recorded as evidence but never approves anything, so an overwrite stays an
 * overwrite however often it is seen.
 */
import { TagNotFoundError } from '../errors.js';
import { classify, observationEntry, tagKind, type Classification } from '../ledger/state.js';
import { parseReference } from '../registry/reference.js';
import type { Ledger, LedgerSource, NewEntry, TagRef } from '../ledger/types.js';
import type { LedgerRequirement } from '../policy/types.js';
import { loadPublicKey } from '../signatures/signers.js';
import type { Finding, Subject, Target } from '../types.js';
import type { TargetResult } from '../verify.js';

export interface LedgerCheckOptions {
  source: LedgerSource;
  actor?: string;
  /** Per result index: tags the ledger has never seen fail (`tag.unrecorded`) instead of being recorded on first use. */
  requireRecorded: boolean | ((index: number) => boolean);
  /** Per result index: leave the ledger out for this image (policy ledger mode `off`). */
  skip?: (index: number) => boolean;
  /** Per result index: only entries up to this seq may approve (a required signed checkpoint's seq). */
  approvalsUpTo?: (index: number) => number | undefined;
}

export interface LedgerCheckResult {
  /** Findings per result index. */
  findings: Map<number, Finding[]>;
  /** Result indexes whose resolution error the ledger explains (a recorded tag that is gone). */
  explained: Set<number>;
  entries: NewEntry[];
}

/** The tag a result speaks of, when it has one the ledger can track. */
export function ledgerTag(r: TargetResult): TagRef | undefined {
  if (r.target.aliasOf) return undefined; // Kamal moves its latest alias on every deploy, by design
  const s = r.subject;
  if (s) return s.tag && !s.target.ref.includes('@') ? { registry: s.registry, repository: s.repository, tag: s.tag } : undefined;
  return undefined;
}

function short(d: string | undefined | null): string {
  return d ? d.slice(0, 19) : 'none';
}

function when(t: string | undefined): string {
  return t ? ` (first seen ${t})` : '';
}

/** The finding for a classification, or none when the tag is where the ledger says. */
export function ledgerFinding(
  target: Target,
  ref: string,
  observed: string | null,
  c: Classification,
  opts: { requireRecorded: boolean },
): Finding | undefined {
  const base = { target, ...(observed ? { digest: observed } : {}) };
  const evidence = { ref, observed, approved: c.previous ?? null, approvedFirstSeen: c.firstSeenPrevious ?? null, observedFirstSeen: c.firstSeenObserved ?? null };
  switch (c.kind) {
    case 'same':
    case 'restored':
      return undefined;
    case 'unrecorded':
      if (!opts.requireRecorded) return undefined;
      return {
        ...base,
        rule: 'tag.unrecorded',
        severity: 'high',
        message: `${ref} has never been recorded in the ledger`,
        remedy: 'run `kamal-gate record` in the build pipeline right after the push, or drop --require-recorded to trust on first use',
        evidence,
      };
    case 'overwritten':
      return {
        ...base,
        rule: 'tag.overwritten',
        severity: 'critical',
        message: `${ref} now points to ${observed}, but the ledger recorded ${c.previous}${when(c.firstSeenPrevious)}: the tag was overwritten`,
        remedy: `do not deploy: find out who pushed this image; if the new image is legitimate, approve it by name: kamal-gate record --approve-move ${ref}@${observed}`,
        evidence,
      };
    case 'rolled_back':
      return {
        ...base,
        rule: 'tag.rolled_back',
        severity: 'critical',
        message: `${ref} points back to ${observed}${when(c.firstSeenObserved)}, an older digest; the ledger recorded ${c.previous}${when(c.firstSeenPrevious)}`,
        remedy: `do not deploy: someone moved the tag back to an older image; if that is intended, approve it by name: kamal-gate record --approve-move ${ref}@${observed}`,
        evidence,
      };
    case 'deleted':
      return {
        ...base,
        rule: 'tag.deleted',
        severity: 'critical',
        message: `${ref} is gone from the registry; the ledger recorded ${short(c.previous)}…${when(c.firstSeenPrevious)}`,
        remedy: 'find out who deleted the tag; deploy by digest from the ledger (`kamal-gate ledger show`) or push and record it again',
        evidence,
      };
  }
}

export async function checkLedger(ledger: Ledger, results: TargetResult[], opts: LedgerCheckOptions): Promise<LedgerCheckResult> {
  const out: LedgerCheckResult = { findings: new Map(), explained: new Set(), entries: [] };
  for (const [i, r] of results.entries()) {
    if (opts.skip?.(i)) continue;
    const requireRecorded = typeof opts.requireRecorded === 'function' ? opts.requireRecorded(i) : opts.requireRecorded;
    let tag = ledgerTag(r);
    let observed: { digest: string | null; platformDigests?: Record<string, string> } | undefined;
    if (tag && r.subject) observed = observation(r.subject);
    else if (!r.subject && r.error instanceof TagNotFoundError && !r.target.aliasOf) {
      tag = tagOfMissing(r.target);
      observed = { digest: null };
    }
    if (!tag || !observed) continue;
    const history = await ledger.history(tag.registry, tag.repository, tag.tag);
    const upTo = opts.approvalsUpTo?.(i);
    const c = classify(history, observed, upTo !== undefined ? { approvalsUpTo: upTo } : {});
    if (observed.digest === null) {
      if (c.kind === 'unrecorded') continue; // never recorded: the resolution error speaks for itself
      out.explained.add(i);
    }
    const ref = `${tag.registry}/${tag.repository}:${tag.tag}`;
    const finding = ledgerFinding(r.target, ref, observed.digest, c, { requireRecorded });
    if (finding) out.findings.set(i, [finding]);
    if (c.kind === 'unrecorded' && requireRecorded) continue; // strict mode records nothing on first sight
    const entry = observationEntry(tag, observed, c, { source: opts.source, ...(opts.actor ? { actor: opts.actor } : {}) }, history);
    // A deploy target that was also observed as some image's base: pin it as a deploy tag, so drift
    // keeps holding it to its approval (an image cannot demote a deploy tag by naming it as its base).
    if (tagKind(history) === 'base') {
      if (entry) entry.role = 'deploy';
      else if (observed.digest !== null) out.entries.push({ ...tag, digest: observed.digest, event: 'observed', source: opts.source, role: 'deploy', ...(opts.actor ? { actor: opts.actor } : {}) });
    }
    if (entry) out.entries.push(entry);
  }
  return out;
}

export function observation(s: Subject): { digest: string; platformDigests?: Record<string, string> } {
  return Object.keys(s.platformDigests).length && s.platformDigest ? { digest: s.digest, platformDigests: s.platformDigests } : { digest: s.digest };
}

/** The tag of a target that could not be resolved, when its reference names one. */
function tagOfMissing(target: Target): TagRef | undefined {
  try {
    const p = parseReference(target.ref);
    return p.tag && !p.digest ? { registry: p.registry, repository: p.repository, tag: p.tag } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `ledger.checkpoint`: for each image whose policy names checkpoint signers, the seq up to which its
 * approvals count (the newest checkpoint's, when one of those signers signed it), or a failing
 * finding and no approvals at all when none did.
 */
export async function checkpointCheck(
  ledger: Ledger,
  results: TargetResult[],
  requirementOf: (index: number) => LedgerRequirement | undefined,
  opts: { trustedRoot?: string } = {},
): Promise<{ upTo: Map<number, number>; findings: Finding[] }> {
  const out = { upTo: new Map<number, number>(), findings: [] as Finding[] };
  const memo = new Map<string, Promise<{ seq: number; signer: string } | { reason: string }>>();
  const { headOf, trustedSeq } = await import('../ledger/head.js');
  for (const [i, r] of results.entries()) {
    const req = requirementOf(i);
    if (!req?.checkpoint || req.mode === 'off' || r.target.aliasOf) continue;
    const cp = req.checkpoint;
    const key = JSON.stringify(cp);
    let verdict = memo.get(key);
    if (!verdict) {
      verdict = (async () => {
        const keys = await Promise.all(cp.keys.map(async (k) => ({ source: k.path, key: await loadPublicKey(k) })));
        const identities = cp.keyless.map((k) => ({
          ...(k.identity ? { subject: k.identity } : {}),
          ...(k.identityRegexp ? { subjectRegExp: k.identityRegexp } : {}),
          ...(k.issuer ? { issuer: k.issuer } : {}),
          ...(k.issuerRegexp ? { issuerRegExp: k.issuerRegexp } : {}),
        }));
        return trustedSeq(headOf(ledger), { ...(keys.length ? { keys } : {}), ...(identities.length ? { identities } : {}), ...(opts.trustedRoot ? { trustedRoot: opts.trustedRoot } : {}) });
      })();
      memo.set(key, verdict);
    }
    const v = await verdict;
    if ('seq' in v) {
      out.upTo.set(i, v.seq);
      continue;
    }
    out.upTo.set(i, 0);
    out.findings.push({
      target: r.target,
      ...(r.subject ? { digest: r.subject.digest } : {}),
      rule: 'ledger.checkpoint',
      severity: 'high',
      message: `the digest ledger ${ledger.location} is not vouched for: ${v.reason}; no approval in it counts for ${r.target.ref}`,
      remedy: 'sign the ledger head in the pipeline with a signer the policy names: `kamal-gate record --checkpoint-key KEY` (or --checkpoint-keyless), or `kamal-gate ledger checkpoint`',
      evidence: { ledger: ledger.location, reason: v.reason },
    });
  }
  return out;
}
