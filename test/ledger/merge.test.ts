/**
 * The three-way merge of the file ledger (src/ledger/merge.ts): the common prefix, ours first and
 * untouched, theirs re-chained after it, duplicates from earlier merges dropped, and the conflicts
 * that stop a merge: two branches deciding the same tag differently.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import { chainBatch } from '../../src/ledger/chain.js';
import { FileLedger, parseLedger } from '../../src/ledger/file.js';
import { commonPrefix, mergeLedgers, type MergeInput } from '../../src/ledger/merge.js';
import { tagState } from '../../src/ledger/state.js';
import type { LedgerEntry, NewEntry } from '../../src/ledger/types.js';

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
let clock = Date.parse('2026-03-01T00:00:00.000Z');
/** A new entry with its own time (a later one each call), approving digest `n` for `tag` unless told otherwise. */
const entry = (tag: string, n: number, extra: Partial<NewEntry> = {}): NewEntry => ({
  registry: 'ghcr.io',
  repository: 'acme/app',
  tag,
  digest: d(n),
  event: 'recorded',
  source: 'record',
  time: new Date((clock += 1000)).toISOString(),
  ...extra,
});
const forget = (tag: string): NewEntry => entry(tag, 0, { digest: null, event: 'forgotten' });

/** A ledger's bytes, as the file ledger writes them (field order as in chainBatch). */
const bytes = (entries: readonly LedgerEntry[]): Buffer => Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));

/** `entries` chained after `before`. */
function extend(before: readonly LedgerEntry[], entries: NewEntry[]): LedgerEntry[] {
  const tip = before.at(-1);
  return [...before, ...chainBatch(entries, tip ? { seq: tip.seq, hash: tip.hash } : null)];
}

function sides(base: readonly LedgerEntry[], ours: readonly LedgerEntry[], theirs: readonly LedgerEntry[], extra: Partial<MergeInput> = {}): MergeInput {
  return {
    base: { text: bytes(base), file: 'base.jsonl' },
    ours: { text: bytes(ours), file: 'ours.jsonl' },
    theirs: { text: bytes(theirs), file: 'theirs.jsonl' },
    path: '.kamal/image-ledger.jsonl',
    ...extra,
  };
}

const content = (e: LedgerEntry) => ({ tag: e.tag, digest: e.digest, event: e.event, time: e.time });
const approvedIn = (entries: readonly LedgerEntry[], tag: string) => tagState(entries.filter((e) => e.tag === tag)).approved;

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('merging two branches of the ledger', () => {
  const base = extend([], [entry('v1', 1), entry('v2', 2)]);

  it('finds the common prefix by hash', () => {
    const ours = extend(base, [entry('a', 10)]);
    const theirs = extend(base, [entry('b', 20)]);
    expect(commonPrefix(ours, theirs)).toBe(2);
    expect(commonPrefix(ours, ours)).toBe(3);
    expect(commonPrefix(base, [])).toBe(0);
    const r = mergeLedgers(sides(base, ours, theirs));
    expect(r).toMatchObject({ prefix: 2, ours: 1, appended: 1, duplicates: 0, conflicts: [], notExtendingBase: [], changed: true });
  });

  it('keeps our entries first and untouched, then theirs re-sequenced and re-chained with their own time', () => {
    const ours = extend(base, [entry('a1', 10), entry('a2', 11)]);
    const theirs = extend(base, [entry('b1', 20), entry('b2', 21), entry('b3', 22)]);
    const r = mergeLedgers(sides(base, ours, theirs));
    expect(r.conflicts).toEqual([]);
    // our bytes are the start of the merged file, byte for byte
    expect(r.text!.subarray(0, bytes(ours).length).equals(bytes(ours))).toBe(true);
    expect(r.entries!.slice(0, ours.length)).toEqual(ours);
    expect(r.entries!.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(r.entries!.slice(ours.length).map(content)).toEqual(theirs.slice(2).map(content));
    expect(r.entries![4]!.prev).toBe(ours.at(-1)!.hash);
    // and the whole file verifies
    const parsed = parseLedger(r.text!);
    expect(parsed.firstBroken).toBeUndefined();
    expect(parsed.torn).toBeUndefined();
    expect(parsed.index.entries).toEqual(r.entries);
  });

  it('writes exactly what the file ledger would have written had both branches appended in that order', async () => {
    const ours = extend(base, [entry('a1', 10, { actor: 'ci', platformDigests: { 'linux/amd64': d(100) } })]);
    const theirNew = [entry('b1', 20, { role: 'base', event: 'observed', source: 'verify' }), entry('b2', 21, { source: 'hook', actor: 'deployer' })];
    const theirs = extend(base, theirNew);
    const r = mergeLedgers(sides(base, ours, theirs));
    const dir = await mkdtemp(join(tmpdir(), 'kamal-gate-merge-'));
    dirs.push(dir);
    const path = join(dir, 'image-ledger.jsonl');
    const file = new FileLedger(path);
    await file.append(base.map(({ seq: _s, prev: _p, hash: _h, ...e }) => e));
    await file.append(ours.slice(2).map(({ seq: _s, prev: _p, hash: _h, ...e }) => e));
    await file.append(theirNew);
    expect(r.text!.toString()).toBe(await readFile(path, 'utf8'));
  });

  it('drops their entries that an earlier merge already brought from ours, and merging back converges', () => {
    const oursFirst = extend(base, [entry('a1', 10)]);
    const theirsFirst = extend(base, [entry('b1', 20)]);
    // branch B merged A: B now holds b1, then a1 re-chained
    const bMerged = mergeLedgers(sides(base, theirsFirst, oursFirst)).entries!;
    expect(bMerged.map((e) => e.tag)).toEqual(['v1', 'v2', 'b1', 'a1']);
    // A went on, then merges B
    const ours = extend(oursFirst, [entry('a2', 11)]);
    const r = mergeLedgers(sides(base, ours, bMerged));
    expect(r).toMatchObject({ prefix: 2, ours: 2, appended: 1, duplicates: 1, conflicts: [] });
    expect(r.entries!.map((e) => e.tag)).toEqual(['v1', 'v2', 'a1', 'a2', 'b1']);
    // B merges A again: only a2 is new to B
    const back = mergeLedgers(sides(base, bMerged, r.entries!));
    expect(back).toMatchObject({ appended: 1, duplicates: 2 });
    expect(back.entries!.map((e) => e.tag)).toEqual(['v1', 'v2', 'b1', 'a1', 'a2']);
    expect(new Set(back.entries!.map((e) => JSON.stringify(content(e))))).toEqual(new Set(r.entries!.map((e) => JSON.stringify(content(e)))));
  });

  it('an entry equal in everything but its time is no duplicate', () => {
    const same = entry('x', 5);
    const ours = extend(base, [same]);
    const theirs = extend(base, [{ ...same, time: new Date(Date.parse(same.time as string) + 1).toISOString() }]);
    const r = mergeLedgers(sides(base, ours, theirs));
    expect(r).toMatchObject({ appended: 1, duplicates: 0, conflicts: [] });
  });

  it('merges when one side has nothing new: nothing to write when theirs adds nothing', () => {
    const ours = extend(base, [entry('a', 10)]);
    expect(mergeLedgers(sides(base, ours, base))).toMatchObject({ changed: false, appended: 0 });
    const r = mergeLedgers(sides(base, base, ours));
    expect(r).toMatchObject({ changed: true, appended: 1 });
    expect(r.entries).toEqual(ours); // a fast-forward: theirs' entries chain exactly as they did
  });

  it('merges a ledger added on both branches (an empty base)', () => {
    const ours = extend([], [entry('a', 10)]);
    const theirs = extend([], [entry('b', 20)]);
    const r = mergeLedgers(sides([], ours, theirs));
    expect(r).toMatchObject({ prefix: 0, ours: 1, appended: 1, conflicts: [] });
    expect(parseLedger(r.text!).firstBroken).toBeUndefined();
  });

  it('merges on the common prefix of both sides when one does not extend BASE', () => {
    const rewrittenBase = extend([], [entry('v1', 1), entry('old', 3)]);
    const ours = extend(base, [entry('a', 10)]);
    const theirs = extend(base, [entry('b', 20)]);
    const r = mergeLedgers(sides(rewrittenBase, ours, theirs));
    expect(r).toMatchObject({ prefix: 2, appended: 1, notExtendingBase: ['ours', 'theirs'], conflicts: [] });
  });

  it('drops a torn last line (an interrupted write) of ours, keeping every complete entry', () => {
    const ours = extend(base, [entry('a', 10)]);
    const theirs = extend(base, [entry('b', 20)]);
    const input = sides(base, ours, theirs);
    input.ours.text = Buffer.concat([input.ours.text, Buffer.from('{"seq":4,"ti')]);
    const r = mergeLedgers(input);
    expect(r.tornDropped).toEqual(['ours']);
    expect(r.entries!.map((e) => e.tag)).toEqual(['v1', 'v2', 'a', 'b']);
    expect(parseLedger(r.text!).torn).toBeUndefined();
  });

  it.each(['base', 'ours', 'theirs'] as const)('refuses a %s side that does not verify, naming it and the line', (side) => {
    const ours = extend(base, [entry('a', 10)]);
    const theirs = extend(base, [entry('b', 20)]);
    const input = sides(base, ours, theirs);
    const lines = input[side].text.toString().split('\n');
    lines[1] = lines[1]!.replace(d(2), d(666)); // an edited entry: its hash no longer matches
    input[side].text = Buffer.from(lines.join('\n'));
    let error: unknown;
    try {
      mergeLedgers(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LedgerError);
    const message = (error as LedgerError).message;
    expect(message).toContain(`${side}.jsonl:2:`);
    expect(message).toContain(side === 'base' ? 'BASE' : side === 'ours' ? 'OURS' : 'THEIRS');
    expect(message).toContain('hash does not match');
    expect((error as LedgerError).exitCode).toBe(2);
  });

  it('refuses a side that is not a ledger at all', () => {
    const input = sides(base, base, base);
    input.theirs.text = Buffer.from('<<<<<<< HEAD\nnot json\n');
    expect(() => mergeLedgers(input)).toThrow(/THEIRS.*theirs\.jsonl:1: not valid JSON/);
  });
});

describe('conflicts: two branches deciding one tag differently', () => {
  const base = extend([], [entry('v1', 1), entry('app', 2)]);

  it('stops when both branches approved different digests for the same tag, naming both', () => {
    const ours = extend(base, [entry('a', 10), entry('app', 3, { event: 'approved' })]);
    const theirs = extend(base, [entry('b', 20), entry('app', 4, { event: 'approved' })]);
    const r = mergeLedgers(sides(base, ours, theirs));
    expect(r.conflicts).toEqual([{ registry: 'ghcr.io', repository: 'acme/app', tag: 'app', ours: d(3), theirs: d(4) }]);
    expect(r.text).toBeUndefined();
    expect(r.changed).toBe(false);
  });

  it('two first recordings of a new tag with different digests conflict too', () => {
    const ours = extend(base, [entry('new', 30)]);
    const theirs = extend(base, [entry('new', 31, { source: 'verify' })]); // trust on first use by verify
    expect(mergeLedgers(sides(base, ours, theirs)).conflicts).toMatchObject([{ tag: 'new', ours: d(30), theirs: d(31) }]);
  });

  it('with keepConflicts merges anyway: the tag then has what theirs approved', () => {
    const ours = extend(base, [entry('app', 3, { event: 'approved' })]);
    const theirs = extend(base, [entry('app', 4, { event: 'approved' })]);
    const r = mergeLedgers(sides(base, ours, theirs, { keepConflicts: true }));
    expect(r.conflicts).toHaveLength(1);
    expect(parseLedger(r.text!).firstBroken).toBeUndefined();
    expect(approvedIn(r.entries!, 'app')).toBe(d(4));
  });

  it('the same digest approved on both sides is no conflict: both entries are kept', () => {
    const ours = extend(base, [entry('app', 3, { event: 'approved', actor: 'alice' })]);
    const theirs = extend(base, [entry('app', 3, { event: 'approved', actor: 'bob' })]);
    const r = mergeLedgers(sides(base, ours, theirs));
    expect(r).toMatchObject({ conflicts: [], appended: 1 });
    expect(approvedIn(r.entries!, 'app')).toBe(d(3));
  });

  it('an approval on one side and mere observations on the other is no conflict, and the approval stands', () => {
    const ours = extend(base, [entry('app', 3, { event: 'approved' })]);
    const theirs = extend(base, [entry('app', 9, { event: 'moved', source: 'drift' }), entry('app', 9, { event: 'moved', source: 'verify' })]);
    const r = mergeLedgers(sides(base, ours, theirs));
    expect(r.conflicts).toEqual([]);
    expect(approvedIn(r.entries!, 'app')).toBe(d(3));
    // and the other way round
    const back = mergeLedgers(sides(base, theirs, ours));
    expect(back.conflicts).toEqual([]);
    expect(approvedIn(back.entries!, 'app')).toBe(d(3));
  });

  it('a forget on one side and an approval on the other conflict, whichever side is ours', () => {
    const forgot = extend(base, [forget('app')]);
    const approved = extend(base, [entry('app', 3, { event: 'approved' })]);
    expect(mergeLedgers(sides(base, forgot, approved)).conflicts).toEqual([{ registry: 'ghcr.io', repository: 'acme/app', tag: 'app', ours: null, theirs: d(3) }]);
    expect(mergeLedgers(sides(base, approved, forgot)).conflicts).toEqual([{ registry: 'ghcr.io', repository: 'acme/app', tag: 'app', ours: d(3), theirs: null }]);
  });

  it('a forget on both sides is no conflict', () => {
    const ours = extend(base, [forget('app')]);
    const theirs = extend(base, [forget('app')]);
    const r = mergeLedgers(sides(base, ours, theirs));
    expect(r.conflicts).toEqual([]);
    expect(tagState(r.entries!.filter((e) => e.tag === 'app')).forgotten).toBe(true);
  });

  it('base-image observations never conflict, whatever digests they name', () => {
    const baseTag = { registry: 'docker.io', repository: 'library/ruby', role: 'base' as const, source: 'verify' as const };
    const b = extend(base, [entry('3.3-slim', 50, { ...baseTag })]);
    const ours = extend(b, [entry('3.3-slim', 51, { ...baseTag, event: 'moved' })]);
    const theirs = extend(b, [entry('3.3-slim', 52, { ...baseTag, event: 'moved' }), entry('3.3-slim', 53, { ...baseTag, event: 'recorded', source: 'record' })]);
    const r = mergeLedgers(sides(b, ours, theirs));
    expect(r).toMatchObject({ conflicts: [], appended: 2 });
  });

  it('stops when dropping duplicates would reorder a tag into another approval than both sides have', () => {
    // B approved Y, then (by hand) took A's approval of X after it: both sides now approve X, but
    // ours-then-theirs would put B's approval of Y last.
    const a1 = entry('app', 3, { event: 'approved' });
    const ours = extend(base, [a1]);
    const theirs = extend(base, [entry('app', 4, { event: 'approved' }), a1]);
    expect(approvedIn(ours, 'app')).toBe(d(3));
    expect(approvedIn(theirs, 'app')).toBe(d(3));
    const r = mergeLedgers(sides(base, ours, theirs));
    expect(r.conflicts).toEqual([{ registry: 'ghcr.io', repository: 'acme/app', tag: 'app', ours: d(3), theirs: d(3), merged: d(4) }]);
  });

  it('different tags, registries and repositories never conflict', () => {
    const ours = extend(base, [entry('app', 3, { event: 'approved', repository: 'acme/other' }), entry('app', 5, { registry: 'quay.io' })]);
    const theirs = extend(base, [entry('app2', 4)]);
    expect(mergeLedgers(sides(base, ours, theirs)).conflicts).toEqual([]);
  });
});
