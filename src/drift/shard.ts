/**
 * `kamal-gate drift --shard I/N`: a share of the ledger's tags per runner, the same split on every
 * runner (by a hash of each tag's name), so N runners together check every tag exactly once.
 */
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import { formatTagRef, type TagRef } from '../ledger/tag-ref.js';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** `I/N`, 1 ≤ I ≤ N. */
export function parseShard(text: string): Shard {
  const m = /^([0-9]+)\/([0-9]+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > 10_000 || index < 1 || index > count) {
    throw new UsageError(`--shard: "${text}" is not I/N with 1 ≤ I ≤ N (e.g. --shard 2/4 for the second of four runners)`);
  }
  return { index, count };
}

/** Whether a tag belongs to a shard: by a hash of its name, so every runner splits the ledger alike. */
export function inShard(tag: TagRef, shard: Shard): boolean {
  if (shard.count === 1) return true;
  const h = createHash('sha256').update(formatTagRef(tag)).digest();
  return (h.readUInt32BE(0) % shard.count) + 1 === shard.index;
}
