/**
 * `kamal-gate ledger merge-file BASE OURS THEIRS [PATH]`: the git merge driver for the file ledger
 * (git runs it as `… %O %A %B %P` after `kamal-gate ledger merge-driver install`).
 *
 * Merges the three versions (src/ledger/merge.ts) and writes the merged ledger to OURS atomically:
 * a temporary file beside it, fsync, parse it back, rename over OURS, fsync the folder. Exit 0 when
 * merged (git then takes OURS as the result); exit 1 when both branches decided a tag differently:
 * OURS is left untouched and git leaves the file conflicted, and the message names each tag with
 * both decisions and says how to resolve. Exit 2 when a version cannot be read or does not verify.
 */
import { randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LedgerError, LedgerUnavailableError, UsageError } from '../errors.js';
import { fsRemedy } from '../ledger/fs-errors.js';
import { formatTagRef } from '../ledger/tag-ref.js';
import { parseLedger } from '../ledger/file.js';
import { mergeLedgers, type Decision, type LedgerMergeResult, type MergeSide, type TagConflict } from '../ledger/merge.js';
import { FILE_LIMITS, readUserFile } from '../user-file.js';
import type { Io } from './io.js';

export interface MergeFileArgs {
  base: string;
  ours: string;
  theirs: string;
  /** The ledger's path in the repository (git's %P). */
  path?: string | undefined;
  keepConflicts?: boolean;
}

const WHICH = { base: 'the common ancestor (BASE)', ours: 'our version (OURS)', theirs: 'their version (THEIRS)' } as const;

async function readSide(file: string, which: keyof typeof WHICH): Promise<MergeSide> {
  try {
    // A whole ledger: each line is checked against the line limit as it is parsed.
    return { text: await readUserFile(file, { limit: FILE_LIMITS.ledger, what: 'a version of the ledger', refuse: (message) => new Error(message) }), file };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new UsageError(`cannot read ${WHICH[which]} of the ledger, ${file}: ${reason}. Nothing was merged.`);
  }
}

export async function ledgerMergeFileCommand(args: MergeFileArgs, io: Io): Promise<number> {
  const [base, ours, theirs] = [await readSide(args.base, 'base'), await readSide(args.ours, 'ours'), await readSide(args.theirs, 'theirs')];
  const path = args.path || args.ours;
  const result = mergeLedgers({ base, ours, theirs, path, keepConflicts: args.keepConflicts === true });
  for (const side of result.tornDropped) io.err(`warning: ${path}: ${WHICH[side]} ends with a torn line (an interrupted write); it is left out of the merge, no complete entry is lost\n`);
  if (result.notExtendingBase.length) {
    io.err(
      `warning: ${path}: ${result.notExtendingBase.map((s) => WHICH[s]).join(' and ')} does not extend the common ancestor (entries were removed or rewritten on that branch); ` +
        `merged from the ${result.prefix} entries both versions share\n`,
    );
  }
  if (result.conflicts.length && !args.keepConflicts) {
    io.err(conflictMessage(path, result.conflicts));
    return 1;
  }
  if (result.changed) await writeAtomically(args.ours, result.text!, result.entries!.length);
  io.out(summary(path, result));
  if (result.conflicts.length) {
    io.err(
      `warning: ${path}: merged with conflicts kept; the merged ledger approves what their side approved for:\n${result.conflicts.map((c) => `  ${describe(c)}\n`).join('')}` +
        `approve the digest each tag must point to: kamal-gate record --approve-move REF@DIGEST\n`,
    );
  }
  if (result.appended && args.path && existsSync(`${args.path}.checkpoint`)) {
    io.err(
      `note: their ${result.appended} entries now follow ours, so only our side's ${path}.checkpoint matches the merged ledger (the merge driver keeps it when both sides changed it). ` +
        `If only their branch signed a new checkpoint, git takes theirs: restore ours with \`git checkout ORIG_HEAD -- ${path}.checkpoint\`. ` +
        `Their entries are not covered by a signature until \`kamal-gate ledger checkpoint\` signs the merged head.\n`,
    );
  }
  return 0;
}

function summary(path: string, r: LedgerMergeResult): string {
  const parts = [`${r.prefix} shared`, `${r.ours} ours kept`, `${r.appended} theirs appended`];
  if (r.duplicates) parts.push(`${r.duplicates} of theirs already ours (dropped)`);
  return `kamal-gate: merged ${path}: ${parts.join(', ')}; ${r.prefix + r.ours + r.appended} entries, hash chain intact\n`;
}

function ref(c: TagConflict): string {
  return formatTagRef(c);
}

function decision(d: Decision): string {
  return d === null ? 'no approved digest (forgotten)' : `approved ${d}`;
}

function describe(c: TagConflict): string {
  const head = `${ref(c)}: ours ${decision(c.ours)}, theirs ${decision(c.theirs)}`;
  return c.merged !== undefined ? `${head}, but merged in order the tag would have ${decision(c.merged)}` : head;
}

function conflictMessage(path: string, conflicts: readonly TagConflict[]): string {
  const approve = conflicts.flatMap((c) => [c.ours, c.theirs].filter((d): d is string => d !== null).map((d) => `${ref(c)}@${d}`));
  const choices = [...new Set(approve)];
  return (
    `kamal-gate: cannot merge ${path}: ${conflicts.every((c) => c.ours !== null && c.theirs !== null && c.merged === undefined) ? 'both branches approved different digests for' : 'the two branches decided differently about'} ${conflicts.length === 1 ? 'a tag' : `${conflicts.length} tags`}:\n` +
    conflicts.map((c) => `  ${describe(c)}\n`).join('') +
    `Nothing was merged: git leaves ${path} conflicted, with our version in the work tree.\n` +
    `To resolve, find out which digest each tag must point to, then (from the repository root) either\n` +
    `  - keep every entry of both branches:\n` +
    `      git show :1:${path} > ${path}.base; git show :3:${path} > ${path}.theirs; git show :2:${path} > ${path}\n` +
    `      kamal-gate ledger merge-file --keep-conflicts ${path}.base ${path} ${path}.theirs ${path} && rm ${path}.base ${path}.theirs\n` +
    `  - or take one branch's file whole (the other branch's entries are then lost): git checkout --ours -- ${path}   (or --theirs)\n` +
    `then approve the digest you picked, e.g.\n${choices.map((c) => `      kamal-gate record --approve-move ${c}\n`).join('')}` +
    (conflicts.some((c) => c.ours === null || c.theirs === null) ? `  (or \`kamal-gate ledger forget REF\` to stop tracking the tag)\n` : '') +
    `and finish the merge: git add ${path} && git commit\n`
  );
}

/** Replaces `target` with `text`: a temporary file beside it, fsync, checked, renamed over it, folder fsynced. */
async function writeAtomically(target: string, text: Buffer, entries: number): Promise<void> {
  let real: string;
  try {
    real = await realpath(target);
  } catch (e) {
    throw new UsageError(`cannot read our version (OURS) of the ledger, ${target}: ${e instanceof Error ? e.message : String(e)}. Nothing was merged.`);
  }
  const dir = dirname(real);
  const tmp = join(dir, `.${basename(real)}.kamal-gate-merge.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const mode = (await stat(real).catch(() => undefined))?.mode ?? 0o644;
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), mode & 0o777);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // What is on disk must verify before it replaces anything.
    const back = parseLedger(await readFile(tmp));
    if (back.firstBroken || back.torn || back.index.entries.length !== entries) {
      throw new LedgerError(`cannot merge ${target}: the merged ledger read back from ${tmp} does not verify. Nothing was merged.`, target);
    }
    await rename(tmp, real);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (e instanceof LedgerError) throw e;
    const reason = e instanceof Error ? e.message : String(e);
    throw new LedgerUnavailableError(`cannot write the merged ledger to ${target}: ${reason}. Nothing was merged: ${target} is unchanged. ${fsRemedy(e)}`.trim(), target, { cause: e });
  }
  // The rename is done; syncing the folder makes it durable. Some file systems refuse to fsync a folder.
  await open(dir, 'r')
    .then((fh) => fh.sync().finally(() => fh.close()))
    .catch(() => undefined);
}
