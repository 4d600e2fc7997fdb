/**
 * Drift: every tag in the ledger re-resolved at its registry (one request per tag) and compared with
 * the digest the ledger approved for it. Built for cron: bounded concurrency, one batch of ledger
 * entries for what changed, nothing appended when nothing did.
 */
import { isKamalGateError, NotFoundError } from './errors.js';
import { baseObservationEntry, classify, observationEntry, tagKind, tagState, type ClassificationKind } from './ledger/state.js';
import type { Ledger, LedgerSource, NewEntry, TagRef } from './ledger/types.js';
import type { RegistryClient } from './registry/client.js';
import { inShard, type Shard } from './drift-service.js';

export interface DriftItem {
  tag: TagRef;
  ref: string;
  /** What the tag points to now; null when it is gone; undefined when the registry could not say. */
  observed?: string | null;
  /**
   * For a deploy tag, how it compares with its approval; for a base tag (only ever observed as some
   * image's base), `base_moved` when upstream moved it since it was last observed (information for
   * staleness, never drift) or `base_same`.
   */
  kind?: ClassificationKind | 'base_moved' | 'base_same';
  approved?: string;
  approvedFirstSeen?: string;
  observedFirstSeen?: string;
  error?: { kind: string; message: string; exitCode: number };
  /** The tag was dropped with `kamal-gate ledger forget`: not checked. */
  forgotten?: boolean;
}

export interface DriftResult {
  items: DriftItem[];
  entries: NewEntry[];
}

export const DRIFT_KINDS = new Set<ClassificationKind>(['overwritten', 'rolled_back', 'deleted']);

export async function runDrift(
  ledger: Ledger,
  client: RegistryClient,
  opts: { concurrency?: number; source?: LedgerSource; actor?: string; shard?: Shard; onProgress?: (done: number, total: number) => void } = {},
): Promise<DriftResult> {
  const all = await ledger.tags();
  const tags = opts.shard ? all.filter((t) => inShard(t, opts.shard!)) : all;
  // One token for many repositories of a registry, where its token service allows it.
  client.expectRepositories(tags.map((t) => ({ registry: t.registry, repository: t.repository })));
  const items: DriftItem[] = new Array(tags.length);
  const entries: Array<NewEntry | null> = new Array(tags.length).fill(null);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < tags.length; i = next++) {
      const tag = tags[i]!;
      const ref = `${tag.registry}/${tag.repository}:${tag.tag}`;
      const item: DriftItem = { tag, ref };
      let observed: string | null | undefined;
      const history = await ledger.history(tag.registry, tag.repository, tag.tag);
      const state = tagState(history);
      const base = tagKind(history) === 'base';
      if (state.forgotten && !base) {
        // `ledger forget`: no longer tracked.
        items[i] = { ...item, kind: undefined, forgotten: true };
        opts.onProgress?.(++done, tags.length);
        continue;
      }
      try {
        observed = await client.tagDigest({ registry: tag.registry, repository: tag.repository }, tag.tag, base ? history.at(-1)?.digest ?? undefined : state.approved);
      } catch (e) {
        if (e instanceof NotFoundError) observed = null;
        else {
          const err = isKamalGateError(e) ? e : undefined;
          item.error = { kind: err?.kind ?? 'internal', message: err?.message ?? String(e), exitCode: err?.exitCode ?? 3 };
        }
      }
      if (observed !== undefined && base) {
        item.observed = observed;
        const last = history.at(-1)?.digest;
        item.kind = observed === last ? 'base_same' : 'base_moved';
        if (last) item.approved = last;
        entries[i] = baseObservationEntry(tag, { digest: observed }, { source: opts.source ?? 'drift', ...(opts.actor ? { actor: opts.actor } : {}) }, history);
      } else if (observed !== undefined) {
        const c = classify(history, { digest: observed });
        item.observed = observed;
        item.kind = c.kind;
        if (c.previous) item.approved = c.previous;
        if (c.firstSeenPrevious) item.approvedFirstSeen = c.firstSeenPrevious;
        if (c.firstSeenObserved) item.observedFirstSeen = c.firstSeenObserved;
        entries[i] = observationEntry(tag, { digest: observed }, c, { source: opts.source ?? 'drift', ...(opts.actor ? { actor: opts.actor } : {}) }, history);
      }
      items[i] = item;
      opts.onProgress?.(++done, tags.length);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 32, tags.length));
  await Promise.all(Array.from({ length: n }, worker));
  return { items, entries: entries.filter((e): e is NewEntry => e !== null) };
}
