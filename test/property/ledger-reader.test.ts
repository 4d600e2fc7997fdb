/**
 * Properties of the file ledger reader (and the writer that follows it), on ledgers written by the
 * real writer from generated entries (any Unicode in names, tags and actors; platform digests;
 * every event), then damaged:
 *
 * - truncated at any byte (a crash mid-append): the ledger loads exactly the entries whose lines
 *   are complete, the chain verifies, and the next append chains onto the last of them;
 * - one byte replaced, inserted or deleted anywhere (corruption, tampering): either the reader
 *   throws a LedgerError naming the file and the damaged line, or it loads every entry but at most
 *   the last, unchanged (the only loss a crash can cause). Damage before the last line is always
 *   detected. The writer never rewrites what is there;
 * - any bytes at all: parseLedger never throws, and readers throw nothing but LedgerError.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import { checkStored } from '../../src/ledger/chain.js';
import { FileLedger, parseLedger } from '../../src/ledger/file.js';
import { GENESIS_HASH, LEDGER_EVENTS, LEDGER_ROLES, LEDGER_SOURCES, type LedgerEntry, type NewEntry } from '../../src/ledger/index.js';
import { cleanlyAsync } from './clean-error.js';

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kamal-gate-prop-ledger-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
const freshPath = (): string => join(dir, `l${n++}.jsonl`);

const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\u0000'));
const digest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `sha256:${Buffer.from(b).toString('hex')}`);
const newEntry: fc.Arbitrary<NewEntry> = fc
  .record(
    {
      registry: name,
      repository: name,
      tag: name,
      digest,
      event: fc.constantFrom(...LEDGER_EVENTS),
      source: fc.constantFrom(...LEDGER_SOURCES),
      role: fc.constantFrom(...LEDGER_ROLES),
      actor: fc.string({ unit: 'binary', maxLength: 10 }),
      platformDigests: fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), digest, { maxKeys: 2 }),
      time: fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
    },
    { requiredKeys: ['registry', 'repository', 'tag', 'digest', 'event', 'source'] },
  )
  .map((e) => (e.event === 'deleted' || e.event === 'forgotten' ? { ...e, digest: null, platformDigests: undefined } : e) as NewEntry)
  // A config approval carries the approved document (and only it does).
  .chain((e) =>
    e.event === 'config-approved'
      ? fc.record({ version: name, document: fc.dictionary(name, fc.oneof(name, fc.array(name, { maxLength: 2 })), { maxKeys: 3 }) }).map((config) => ({ ...e, config }) as NewEntry)
      : fc.constant(e),
  );
const batches = fc.array(fc.array(newEntry, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 });

/** Writes the batches with the real writer; returns the entries as stored and the file's bytes. */
async function written(list: NewEntry[][]): Promise<{ path: string; stored: LedgerEntry[]; bytes: Buffer }> {
  const path = freshPath();
  const ledger = new FileLedger(path);
  const stored: LedgerEntry[] = [];
  for (const b of list) stored.push(...(await ledger.append(b)));
  return { path, stored, bytes: await readFile(path) };
}

/** 1-based line of byte `p` (a line's newline belongs to it); lines.length + 1 past the end. */
function lineOf(bytes: Buffer, p: number): number {
  let line = 1;
  for (let i = bytes.indexOf(0x0a); i !== -1 && i < p; i = bytes.indexOf(0x0a, i + 1)) line++;
  return line;
}

const tally = { truncations: 0, damages: 0, garbage: 0, detected: 0, tornRepairs: 0 };
afterAll(() => {
  console.log(
    `ledger reader properties: ${tally.truncations} truncations, ${tally.damages} one-byte damages (${tally.detected} refused with the line, the rest loaded), ${tally.garbage} arbitrary inputs`,
  );
});

describe('file ledger reader properties', () => {
  // Each run writes a file with fsync: on failure fast-check prints the seed and path to replay
  // instead of shrinking for minutes (endOnFailure).
  it('a ledger cut at any byte loads its complete entries, verifies, and the next append chains onto them', async () => {
    await fc.assert(
      fc.asyncProperty(batches, fc.nat(), newEntry, async (list, cutSeed, extra) => {
        tally.truncations++;
        const { path, stored, bytes } = await written(list);
        const cut = cutSeed % (bytes.length + 1);
        await writeFile(path, bytes.subarray(0, cut));
        // An entry survives when its line's content (everything before its newline) is all there.
        let complete = 0;
        for (let i = bytes.indexOf(0x0a); i !== -1 && i <= cut; i = bytes.indexOf(0x0a, i + 1)) complete++;
        const kept = stored.slice(0, complete);
        const reader = new FileLedger(path);
        expect(await reader.all()).toEqual(kept);
        const report = await reader.verify();
        expect(report.ok).toBe(true);
        expect(report.entries).toBe(kept.length);
        if (report.repairedTornLine) tally.tornRepairs++;
        const [next] = await reader.append([extra]);
        expect(next).toMatchObject({ seq: kept.length + 1, prev: kept.at(-1)?.hash ?? GENESIS_HASH });
        expect(await new FileLedger(path).all()).toEqual([...kept, next]);
        expect((await new FileLedger(path).verify()).ok).toBe(true);
      }),
      { numRuns: 120, endOnFailure: true },
    );
  }, 120_000);

  it('one byte replaced, inserted or deleted: refused naming the line, or loaded with at most the last entry lost', async () => {
    const damage = fc.record({
      op: fc.constantFrom('replace', 'insert', 'delete'),
      at: fc.nat(),
      byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x0a, 0x20, 0x22, 0x7b, 0x7d, 0x2c, 0x3a, 0x30, 0x00)),
    });
    await fc.assert(
      fc.asyncProperty(batches, damage, newEntry, async (list, d, extra) => {
        tally.damages++;
        const { path, stored, bytes } = await written(list);
        const p = d.op === 'insert' ? d.at % (bytes.length + 1) : d.at % bytes.length;
        if (d.op === 'replace' && bytes[p] === d.byte) return; // not a change
        const damaged =
          d.op === 'replace'
            ? Buffer.concat([bytes.subarray(0, p), Buffer.from([d.byte]), bytes.subarray(p + 1)])
            : d.op === 'insert'
              ? Buffer.concat([bytes.subarray(0, p), Buffer.from([d.byte]), bytes.subarray(p)])
              : Buffer.concat([bytes.subarray(0, p), bytes.subarray(p + 1)]);
        await writeFile(path, damaged);
        const line = lineOf(bytes, p);
        const read = await cleanlyAsync(() => new FileLedger(path).all(), LedgerError);
        if (read.ok) {
          // Loaded: nothing changed (white space JSON allows between tokens changes nothing), and
          // at most the last entry is missing, only when the damage is in the last line (torn).
          expect(stored.slice(0, read.value.length)).toEqual(read.value);
          expect(read.value.length).toBeGreaterThanOrEqual(stored.length - 1);
          if (read.value.length < stored.length) expect(line).toBeGreaterThanOrEqual(stored.length);
        } else {
          tally.detected++;
          const e = read.error as LedgerError;
          expect(e.line).toBe(line);
          expect(e.message).toContain(`${path}:${line}:`);
          expect(e.message).toContain('kamal-gate ledger verify');
          const report = await new FileLedger(path).verify();
          expect(report.ok).toBe(false);
          expect(report.firstBroken?.line).toBe(line);
        }
        // The writer either refuses (LedgerError) or appends; it never rewrites a complete line.
        const lastNl = damaged.lastIndexOf(0x0a);
        const wrote = await cleanlyAsync(() => new FileLedger(path).append([extra]), LedgerError);
        const after = await readFile(path);
        if (wrote.ok) expect(after.subarray(0, lastNl + 1).equals(damaged.subarray(0, lastNl + 1))).toBe(true);
        else expect(after.equals(damaged)).toBe(true);
      }),
      { numRuns: 200, endOnFailure: true },
    );
  }, 120_000);

  it('any bytes: parseLedger never throws and readers throw nothing but LedgerError', async () => {
    const entryLike = fc.dictionary(
      fc.constantFrom('seq', 'time', 'registry', 'repository', 'tag', 'digest', 'platformDigests', 'event', 'source', 'role', 'actor', 'prev', 'hash', '__proto__', 'constructor', 'x'),
      fc.jsonValue({ maxDepth: 3 }),
    );
    const line = fc.oneof(
      entryLike.map((o) => JSON.stringify(o)),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('', '{', '}', '[]', 'null', '\r', '{"seq":1e400}', '{"seq":-0}', `{"seq":1,"time":"2025-01-01T00:00:00.000Z"}`),
      fc.constant('['.repeat(5000) + ']'.repeat(5000)),
    );
    const input = fc.oneof(
      fc
        .array(line, { maxLength: 6 })
        .chain((ls) => fc.constantFrom(ls.join('\n'), `${ls.join('\n')}\n`, ls.join('\r\n')))
        .map((s) => Buffer.from(s, 'utf8')),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    );
    fc.assert(
      fc.property(input, (buf) => {
        tally.garbage++;
        const parsed = parseLedger(buf);
        expect(parsed.index.entries.length).toBeLessThanOrEqual(parsed.lines);
      }),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.oneof(entryLike, fc.anything()), (v) => {
        tally.garbage++;
        const c = checkStored(v);
        expect(c.entry !== undefined || typeof c.reason === 'string').toBe(true);
      }),
      { numRuns: 400 },
    );
    await fc.assert(
      fc.asyncProperty(input, async (buf) => {
        tally.garbage++;
        const path = freshPath();
        await writeFile(path, buf);
        await cleanlyAsync(() => new FileLedger(path).all(), LedgerError);
        await cleanlyAsync(() => new FileLedger(path).verify(), LedgerError);
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
