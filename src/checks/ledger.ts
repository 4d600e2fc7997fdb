/**
 * The ledger check: every resolved tag is compared with the digest the ledger approved for it.
 * Approval comes only from `kamal-gate record` (the build pipeline) or from first use; what verify
 * and drift observe is recorded as evidence but never approves anything, so an overwrite stays an
 * overwrite however often it is seen.
 */
import { TagNotFoundError } from '../errors.js';
import { observe, readTag } from '../ledger/observe.js';
import type { Classification } from '../ledger/state.js';
import { formatTagRef, unpinnedTagRef } from '../ledger/tag-ref.js';
import type { NewEntry, TagRef } from '../ledger/types.js';
import type { Finding, Subject, Target, TargetResult } from '../types.js';
import { approvalsUpTo } from './checkpoint.js';
import type { CheckOutput, TargetCheck } from './types.js';

/** The tag a result speaks of, when it has one the ledger can track. */
export function ledgerTag(r: TargetResult): TagRef | undefined {
  if (r.target.aliasOf) return undefined; // Kamal moves its latest alias on every deploy, by design
  const s = r.image;
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
export function ledgerFinding(target: Target, ref: string, observed: string | null, c: Classification, opts: { requireRecorded: boolean }): Finding | undefined {
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

/**
 * Each target's tag against the ledger: a resolved tag against the digest it approved, a tag that is
 * gone against what it recorded (a recorded tag that is gone explains the resolution error). The
 * policy's ledger mode `off` leaves the image out; trust `strict` (or `--require-recorded`) makes a
 * tag the ledger never saw fail (`tag.unrecorded`) instead of being recorded on first use.
 */
export const ledgerCheck: TargetCheck = {
  name: 'ledger',
  on: 'target',
  async run(r, ctx) {
    const out: CheckOutput & { entries: NewEntry[] } = { findings: [], entries: [] };
    const req = ctx.requirements?.groups.ledger.value;
    const ledger = ctx.ledger;
    if (!ledger || req?.mode === 'off') return out;
    const requireRecorded = ctx.requireRecorded === true || req?.trust === 'strict';
    let tag = ledgerTag(r);
    let observed: { digest: string | null; platformDigests?: Record<string, string> } | undefined;
    if (tag && r.image) observed = observation(r.image);
    else if (!r.image && r.error instanceof TagNotFoundError && !r.target.aliasOf) {
      tag = tagOfMissing(r.target);
      observed = { digest: null };
    }
    if (!tag || !observed) return out;
    const t = await readTag(ledger, tag);
    const upTo = await approvalsUpTo(r, ctx);
    // A deploy target also observed as some image's base is pinned as a deploy tag (pinDeploy).
    const { classification: c, entry } = observe(t, observed, {
      source: ctx.source,
      ...(ctx.actor ? { actor: ctx.actor } : {}),
      ...(upTo !== undefined ? { approvalsUpTo: upTo } : {}),
      pinDeploy: true,
    });
    if (observed.digest === null) {
      if (c.kind === 'unrecorded') return out; // never recorded: the resolution error speaks for itself
      out.explained = true;
    }
    const finding = ledgerFinding(r.target, formatTagRef(tag), observed.digest, c, { requireRecorded });
    if (finding) out.findings.push(finding);
    if (c.kind === 'unrecorded' && requireRecorded) return out; // strict mode records nothing on first sight
    if (entry) out.entries.push(entry);
    return out;
  },
};

export function observation(s: Subject): { digest: string; platformDigests?: Record<string, string> } {
  return Object.keys(s.platformDigests).length && s.platformDigest ? { digest: s.digest, platformDigests: s.platformDigests } : { digest: s.digest };
}

/** The tag of a target that could not be resolved, when its reference names one. */
function tagOfMissing(target: Target): TagRef | undefined {
  return unpinnedTagRef(target.ref);
}
