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
 *
 * Why a load still hashes the entries a checkpoint covers (issue 20): the checkpoint signs one hash,
 * the head's, and vouches for an earlier entry only through the chain of hashes down to it. An entry
 * edited with its stored `hash` kept links as before; only hashing it shows the edit. Skipping those
 * hashes would need a signature over the bytes themselves (a digest of the ledger up to the
 * checkpoint), and one anchored in a trusted key: a self-signed checkpoint would otherwise let a
 * one-line edit through where today the whole chain after it must be rewritten. A load does not know
 * the trusted keys (the policy names them, checks/checkpoint.ts). Measured at 100,000 entries, the
 * hashing (canonical JSON and SHA-256) is about a quarter of a load, JSON.parse and the garbage
 * collector about half, so even a load that hashed nothing would not reach 150 ms.
 */
import { LedgerError } from '../errors.js';
// checkpoint-format loads @sigstore/bundle: imported only when there is a checkpoint to read or sign,
// so a ledger without checkpoints costs nothing at start-up.
import type { CheckpointSigner, CheckpointTrust, SignedCheckpoint } from './checkpoint-format.js';
import type { ChainReport, Ledger } from './types.js';

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
  if (text === undefined) return remember(ledger, { entries: entries.length, unsigned: entries.length });
  const cp = await parseCheckpoint(ledger, text);
  return remember(ledger, await checkAgainst(ledger, cp, { entries: entries.length, first: entries[0]?.hash, at: entries[cp.seq - 1]?.hash }, opts));
}

/** What `ledger verify` found: the chain (every entry checked), and the checkpoint against it or why it does not hold. */
export interface VerifiedLedger {
  report: ChainReport;
  head?: HeadStatus;
  /** Why the checkpoint does not hold (only looked at when the chain verifies). */
  problem?: string;
}

/**
 * `ledger verify`: every entry's hash and link checked in one pass that keeps no entry in memory
 * (Ledger.verify, which also reports the hashes the checkpoint names), then the newest checkpoint
 * against them and its signature, as checkHead does.
 */
export async function verifyWithHead(ledger: Ledger, opts: { trustedRoot?: string } = {}): Promise<VerifiedLedger> {
  let cp: SignedCheckpoint | undefined;
  let early: LedgerError | undefined;
  try {
    const text = await ledger.readCheckpoint();
    if (text !== undefined) cp = await parseCheckpoint(ledger, text);
  } catch (e) {
    if (!(e instanceof LedgerError)) throw e;
    early = e;
  }
  const report = await ledger.verify(cp ? { hashAt: cp.seq } : {});
  if (!report.ok) return { report };
  if (early) return { report, problem: early.message };
  if (!cp) return { report, head: remember(ledger, { entries: report.entries, unsigned: report.entries }) };
  try {
    return { report, head: remember(ledger, await checkAgainst(ledger, cp, { entries: report.entries, first: report.firstHash, at: report.hashAt }, opts)) };
  } catch (e) {
    if (!(e instanceof LedgerError)) throw e;
    return { report, problem: e.message };
  }
}

function remember(ledger: Ledger, status: HeadStatus): HeadStatus {
  heads.set(ledger, status);
  return status;
}

async function parseCheckpoint(ledger: Ledger, text: string): Promise<SignedCheckpoint> {
  const { parseSignedCheckpoint } = await import('./checkpoint-format.js');
  return parseSignedCheckpoint(text, where(ledger));
}

/** A verified chain as far as a checkpoint looks at it: its length, the hash of seq 1 and of the checkpoint's seq. */
interface ChainHead {
  entries: number;
  first: string | undefined;
  at: string | undefined;
}

/** The checkpoint against the chain, then its signature; LedgerError (exit 2) when either fails. */
async function checkAgainst(ledger: Ledger, cp: SignedCheckpoint, chain: ChainHead, opts: { trustedRoot?: string }): Promise<HeadStatus> {
  const at = where(ledger);
  const mismatch = mismatchOf(cp, chain);
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
  return { checkpoint: cp, signer: v.signer, entries: chain.entries, unsigned: chain.entries - cp.seq };
}

/** Why the chain does not match the checkpoint, naming the sequence; undefined when it does. */
function mismatchOf(cp: SignedCheckpoint, chain: ChainHead): string | undefined {
  if (chain.entries === 0 || chain.first === undefined) return `the ledger is empty, but its checkpoint signed entry seq ${cp.seq}: every entry was removed`;
  if (chain.first !== cp.ledger) return `entry seq 1 is not the one the checkpoint names (another ledger, or its first entry was rewritten)`;
  if (chain.at === undefined || cp.seq > chain.entries) {
    const gone = chain.entries + 1 === cp.seq ? `entry ${cp.seq} was` : `entries ${chain.entries + 1}–${cp.seq} were`;
    return `the ledger ends at seq ${chain.entries}, but its checkpoint signed seq ${cp.seq}: ${gone} removed`;
  }
  if (chain.at !== cp.hash) return `entry seq ${cp.seq} is not the one the checkpoint signed (hash ${chain.at}, signed ${cp.hash}): the ledger was rewritten`;
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
