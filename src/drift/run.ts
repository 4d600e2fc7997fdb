/**
 * One drift round: every tag in the ledger (or in this runner's shard) re-resolved at its registry
 * (one request per tag) and compared with the digest the ledger approved for it. Built for cron: the
 * ledger read once, a bounded number of tags in flight per registry (registries worked in parallel, a
 * slow one never holding up the others), one batch of ledger entries for what changed, nothing
 * appended when nothing did.
 */
import { isKamalGateError, NotFoundError } from '../errors.js';
import { expectedDigest, observe, observeBase, tagRecord, type ObserveOptions, type TagRecord } from '../ledger/observe.js';
import type { ClassificationKind } from '../ledger/state.js';
import { formatTagRef } from '../ledger/tag-ref.js';
import type { Ledger, LedgerSource, NewEntry, TagRef } from '../ledger/types.js';
import { mapConcurrent } from '../map-concurrent.js';
import type { RegistryClient } from '../registry/client.js';
import { inShard, type Shard } from './shard.js';

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

/** Tags checked at once per registry when the caller does not say (bench/drift.ts tunes it). */
export const DEFAULT_DRIFT_CONCURRENCY = 16;

export interface RunDriftOptions {
  /** Tags checked at once per registry (`kamal-gate drift` gives the client as many connections per registry). */
  concurrency?: number;
  source?: LedgerSource;
  actor?: string;
  shard?: Shard;
  onProgress?: (done: number, total: number) => void;
}

/** One tag: what it points to now, against the ledger, and the entry that records it. */
async function checkTag(client: RegistryClient, t: TagRecord, opts: ObserveOptions): Promise<{ item: DriftItem; entry: NewEntry | null }> {
  const tag = t.tag;
  const item: DriftItem = { tag, ref: formatTagRef(tag) };
  const base = t.kind === 'base';
  // `ledger forget`: no longer tracked.
  if (t.state.forgotten && !base) return { item: { ...item, kind: undefined, forgotten: true }, entry: null };
  let observed: string | null | undefined;
  try {
    observed = await client.tagDigest({ registry: tag.registry, repository: tag.repository }, tag.tag, expectedDigest(t));
  } catch (e) {
    if (e instanceof NotFoundError) observed = null;
    else {
      const err = isKamalGateError(e) ? e : undefined;
      item.error = { kind: err?.kind ?? 'internal', message: err?.message ?? String(e), exitCode: err?.exitCode ?? 3 };
    }
  }
  if (observed === undefined) return { item, entry: null };
  item.observed = observed;
  if (base) {
    const o = observeBase(t, observed, opts);
    item.kind = o.moved ? 'base_moved' : 'base_same';
    if (o.last) item.approved = o.last;
    return { item, entry: o.entry };
  }
  const { classification: c, entry } = observe(t, { digest: observed }, opts);
  item.kind = c.kind;
  if (c.previous) item.approved = c.previous;
  if (c.firstSeenPrevious) item.approvedFirstSeen = c.firstSeenPrevious;
  if (c.firstSeenObserved) item.observedFirstSeen = c.firstSeenObserved;
  return { item, entry };
}

/** Every tag of the ledger as a record, from one reading of it (not a read per tag). */
export async function ledgerTags(ledger: Ledger): Promise<TagRecord[]> {
  return (await ledger.histories()).map(({ tag, history }) => tagRecord(tag, history));
}

export async function runDrift(ledger: Ledger, client: RegistryClient, opts: RunDriftOptions = {}): Promise<DriftResult> {
  const all = await ledgerTags(ledger);
  const tags = opts.shard ? all.filter((t) => inShard(t.tag, opts.shard!)) : all;
  // One token for many repositories of a registry, where its token service allows it.
  client.expectRepositories(tags.map((t) => ({ registry: t.tag.registry, repository: t.tag.repository })));
  const observeOpts: ObserveOptions = { source: opts.source ?? 'drift', ...(opts.actor ? { actor: opts.actor } : {}) };
  // Each registry its own queue with its own bound, all registries at once; results in ledger order.
  const byRegistry = new Map<string, number[]>();
  tags.forEach((t, i) => {
    const list = byRegistry.get(t.tag.registry);
    if (list) list.push(i);
    else byRegistry.set(t.tag.registry, [i]);
  });
  const checked: Array<{ item: DriftItem; entry: NewEntry | null }> = new Array(tags.length);
  let done = 0;
  await Promise.all(
    [...byRegistry.values()].map((indices) =>
      mapConcurrent(indices, opts.concurrency ?? DEFAULT_DRIFT_CONCURRENCY, async (i) => {
        checked[i] = await checkTag(client, tags[i]!, observeOpts);
        opts.onProgress?.(++done, tags.length);
      }),
    ),
  );
  return { items: checked.map((c) => c.item), entries: checked.map((c) => c.entry).filter((e): e is NewEntry => e !== null) };
}
