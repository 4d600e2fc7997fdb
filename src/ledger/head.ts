/**
 * The ledger's head against its newest signed checkpoint (checkpoint-format.ts), offline.
 *
 * What a checkpoint proves: the ledger named by its first entry held, at the time it was signed,
 * exactly the entries up to `seq` ending in `hash`. A ledger that now lacks that entry (truncated),
 * or whose entry at that seq has another hash (an approval rewritten and every hash after it
 * recomputed), is refused here with LedgerError (exit 2) naming the sequence.
 *
 * What it cannot prove: that nothing was appended after it (those entries are unsigned: with a
 * policy that requires checkpoints, approvals after the checkpoint approve nothing), nor that the
 * checkpoint is the newest one ever signed (the ledger and its checkpoint rolled back together to an
 * older signed state verify; keep the checkpoint where the attacker cannot write it too, e.g. the
 * PostgreSQL table or protected branch history, and watch `drift`).
 */
import { LedgerError } from '../errors.js';
// checkpoint-format loads @sigstore/bundle: imported only when there is a checkpoint to read or sign,
// so a ledger without checkpoints costs nothing at start-up.
import type { CheckpointSigner, CheckpointTrust, SignedCheckpoint } from './checkpoint-format.js';
import type { Ledger, LedgerEntry } from './types.js';

export interface HeadStatus {
  /** The newest checkpoint, checked against the ledger and against its own signature. */
  checkpoint?: SignedCheckpoint;
  /** Who signed it (unanchored: only consistent with its own key), for messages. */
  signer?: string;
  /** Entries in the ledger. */
  entries: number;
  /** Entries after the checkpoint: not covered by any signature. */
  unsigned: number;
}

const heads = new WeakMap<Ledger, HeadStatus>();

/** The head status `checkHead` found for this ledger in this process, if it ran. */
export function headOf(ledger: Ledger): HeadStatus | undefined {
  return heads.get(ledger);
}

function where(ledger: Ledger): string {
  return 'checkpointPath' in ledger ? String((ledger as { checkpointPath: string }).checkpointPath) : `${ledger.location} (kamal_gate_checkpoints)`;
}

/** Checks the newest checkpoint against the ledger; throws LedgerError (exit 2) when the ledger does not hold what it signed. */
export async function checkHead(ledger: Ledger, opts: { trustedRoot?: string } = {}): Promise<HeadStatus> {
  const text = await ledger.readCheckpoint();
  const entries = await ledger.all();
  if (text === undefined) {
    const status = { entries: entries.length, unsigned: entries.length };
    heads.set(ledger, status);
    return status;
  }
  const at = where(ledger);
  const { parseSignedCheckpoint } = await import('./checkpoint-format.js');
  const cp = parseSignedCheckpoint(text, at);
  const mismatch = headMismatch(cp, entries);
  if (mismatch) {
    throw new LedgerError(
      `${ledger.location}: ${mismatch}. The ledger does not hold what its checkpoint of ${cp.time} signed (${at}): do not trust it. ` +
        'Restore the ledger from version control or a database backup, then run `kamal-gate ledger verify`.' +
        ('checkpointPath' in ledger && /was rewritten/.test(mismatch)
          ? ` If this follows a git merge that took the other branch's checkpoint while re-chaining its entries, restore this branch's: git checkout ORIG_HEAD -- ${at}`
          : ''),
      ledger.location,
    );
  }
  const { verifyCheckpointSignature } = await import('./checkpoint-sign.js');
  const v = await verifyCheckpointSignature(cp, opts.trustedRoot ? { trustedRoot: opts.trustedRoot } : undefined);
  if (!v.ok) throw new LedgerError(`${at}: the checkpoint's signature does not verify: ${v.reason}. Restore it from version control or sign a new one after \`kamal-gate ledger verify\`.`, at);
  const status: HeadStatus = { checkpoint: cp, signer: v.signer, entries: entries.length, unsigned: entries.length - cp.seq };
  heads.set(ledger, status);
  return status;
}

/** Why the entries do not match the checkpoint, naming the sequence; undefined when they do. */
export function headMismatch(cp: SignedCheckpoint, entries: readonly LedgerEntry[]): string | undefined {
  const first = entries[0];
  if (!first) return `the ledger is empty, but its checkpoint signed entry seq ${cp.seq}: every entry was removed`;
  if (first.hash !== cp.ledger) return `entry seq 1 is not the one the checkpoint names (another ledger, or its first entry was rewritten)`;
  const e = entries[cp.seq - 1];
  if (!e) {
    const gone = entries.length + 1 === cp.seq ? `entry ${cp.seq} was` : `entries ${entries.length + 1}–${cp.seq} were`;
    return `the ledger ends at seq ${entries.length}, but its checkpoint signed seq ${cp.seq}: ${gone} removed`;
  }
  if (e.hash !== cp.hash) return `entry seq ${cp.seq} is not the one the checkpoint signed (hash ${e.hash}, signed ${cp.hash}): the ledger was rewritten`;
  return undefined;
}

/** Signs the ledger's current head and stores the checkpoint. Returns it, or undefined for an empty ledger. */
export async function signHead(ledger: Ledger, signer: CheckpointSigner, now = new Date()): Promise<SignedCheckpoint | undefined> {
  const entries = await ledger.all();
  const first = entries[0];
  const last = entries.at(-1);
  if (!first || !last) return undefined;
  const { CHECKPOINT_SCHEMA, formatSignedCheckpoint } = await import('./checkpoint-format.js');
  const cp = await signer.sign({ schema: CHECKPOINT_SCHEMA, ledger: first.hash, seq: last.seq, hash: last.hash, time: now.toISOString() });
  await ledger.writeCheckpoint(formatSignedCheckpoint(cp), cp.seq);
  heads.set(ledger, { checkpoint: cp, signer: signer.describe, entries: entries.length, unsigned: 0 });
  return cp;
}

/**
 * The seq up to which approvals count for an image whose policy requires checkpoints signed by
 * `trust`: the newest checkpoint's seq when its signature is anchored in `trust`; otherwise a reason.
 */
export async function trustedSeq(status: HeadStatus | undefined, trust: CheckpointTrust): Promise<{ seq: number; signer: string } | { reason: string }> {
  if (!status?.checkpoint) return { reason: 'the ledger has no signed checkpoint' };
  const { verifyCheckpointSignature } = await import('./checkpoint-sign.js');
  const v = await verifyCheckpointSignature(status.checkpoint, trust);
  if (!v.ok) return { reason: `its checkpoint (seq ${status.checkpoint.seq}, ${status.checkpoint.time}) is not signed by a signer the policy names: ${v.reason}` };
  return { seq: status.checkpoint.seq, signer: v.signer };
}
