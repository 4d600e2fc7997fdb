/**
 * The file ledger is read a chunk at a time (LedgerParser): whatever the chunk size, and wherever a
 * chunk boundary falls (inside a line, on a newline, inside a multi-byte character), the reading
 * must be the same as reading the whole file at once, torn last lines and broken lines included.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerParser, parseLedger, type ParsedLedger } from '../../src/ledger/file.js';
import { FileLedger } from '../../src/ledger/index.js';

let dir: string;
let valid: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kamal-gate-parser-'));
  const ledger = new FileLedger(join(dir, 'l.jsonl'));
  await ledger.append(
    Array.from({ length: 6 }, (_, i) => ({
      registry: 'ghcr.io',
      repository: `acme/app-${i % 2}`,
      tag: `v${i}`,
      digest: `sha256:${String(i).repeat(64)}`,
      event: 'recorded' as const,
      source: 'record' as const,
      actor: i === 3 ? 'déploiement ✓ 部署' : undefined, // multi-byte characters for chunk boundaries to split
    })),
  );
  valid = await readFile(join(dir, 'l.jsonl'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function chunked(buf: Buffer, size: number): ParsedLedger {
  const p = new LedgerParser();
  // one reused buffer, as the file reader does: the parser must copy what it keeps
  const scratch = Buffer.alloc(size);
  for (let i = 0; i < buf.length; i += size) {
    const n = buf.copy(scratch, 0, i, Math.min(buf.length, i + size));
    p.feed(scratch.subarray(0, n));
  }
  return p.finish();
}

function summary(r: ParsedLedger) {
  return { lines: r.lines, firstBroken: r.firstBroken, torn: r.torn, entries: r.index.entries.map((e) => `${e.seq} ${e.hash} ${e.actor ?? ''}`) };
}

const lines = () => valid.toString('utf8').split('\n').slice(0, -1);
const variants: Record<string, () => Buffer> = {
  valid: () => valid,
  'no final newline': () => valid.subarray(0, valid.length - 1),
  'torn fragment after the last entry': () => Buffer.concat([valid, Buffer.from('{"seq":7,"time":"20')]),
  'terminated garbage last line': () => Buffer.concat([valid, Buffer.from('\0\0\0\0\n')]),
  'trailing empty line': () => Buffer.concat([valid, Buffer.from('\n')]),
  'empty line in the middle': () => Buffer.from(lines().slice(0, 2).join('\n') + '\n\n' + lines().slice(2).join('\n') + '\n'),
  'edited entry in the middle': () => Buffer.from(valid.toString('utf8').replace('"acme/app-1","tag":"v3"', '"acme/app-1","tag":"v9"')),
  'not JSON in the middle': () => Buffer.from(lines().slice(0, 3).join('\n') + '\n{oops\n' + lines().slice(3).join('\n') + '\n'),
};

describe('LedgerParser', () => {
  for (const [name, make] of Object.entries(variants)) {
    it(`reads "${name}" the same in chunks of any size as in one piece`, () => {
      const buf = make();
      const whole = summary(parseLedger(buf));
      for (let size = 1; size <= 40; size++) expect(summary(chunked(buf, size)), `chunks of ${size}`).toEqual(whole);
      expect(summary(chunked(buf, 4096))).toEqual(whole);
    });
  }

  it('reads each variant as the ledger format says', () => {
    const read = (name: string) => summary(parseLedger(variants[name]!()));
    expect(read('valid')).toMatchObject({ lines: 6, firstBroken: undefined, torn: undefined });
    expect(read('valid').entries[3]).toContain('déploiement ✓ 部署');
    expect(read('no final newline')).toMatchObject({ lines: 6, firstBroken: undefined, torn: undefined });
    expect(read('torn fragment after the last entry')).toMatchObject({ lines: 6, torn: { line: 7, offset: valid.length } });
    expect(read('terminated garbage last line')).toMatchObject({ lines: 6, torn: { line: 7, offset: valid.length } });
    expect(read('trailing empty line')).toMatchObject({ lines: 6, torn: { line: 7, offset: valid.length } });
    expect(read('empty line in the middle')).toMatchObject({ lines: 7, firstBroken: { seq: 3, line: 3, reason: 'empty line' } });
    expect(read('edited entry in the middle').firstBroken).toMatchObject({ seq: 4, line: 4, reason: 'hash does not match the entry: the entry was edited' });
    expect(read('edited entry in the middle').entries).toHaveLength(3);
    expect(read('not JSON in the middle')).toMatchObject({ lines: 7, firstBroken: { seq: 4, line: 4, reason: 'not valid JSON' } });
  });
});
