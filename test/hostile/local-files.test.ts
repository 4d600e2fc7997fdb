/**
 * Hostile local files against the real CLI (dist/cli.js): whatever the Kamal config, its destination
 * overlay, a secrets file, the policy or a key file is (a named pipe, a folder, a device, a socket,
 * 200 MB), the CLI answers within seconds with exit 2 and a message naming the file (and the
 * limit), never a hang, a heap crash or a stack trace; a symbolic link to a regular file is read.
 * Each run is killed after RUN_TIMEOUT_MS, so a hang fails its test (code -1) instead of hanging the
 * suite. A ledger line longer than any entry is refused naming its line and never cut away.
 * YAML shapes (alias bombs, nesting) are in yaml-shapes.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, LedgerError, LedgerUnavailableError } from '../../src/errors.js';
import { LedgerParser, parseLedger } from '../../src/ledger/file.js';
import { FileLedger } from '../../src/ledger/index.js';
import { DockerConfigCredentials } from '../../src/registry/credentials.js';
import { loadTrustedRoot } from '../../src/signatures/trust.js';
import { FILE_LIMITS } from '../../src/user-file.js';
import { CONFIG, expectRefused, run, RUN_TIMEOUT_MS } from '../helpers/hostile-files.js';

const SHIPPED_POLICY = readFileSync(join(import.meta.dirname, '..', '..', 'policies', 'baseline.yml'), 'utf8');

let root: string;
const servers: Server[] = [];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kg-local-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(root, { recursive: true, force: true });
});

/** A Kamal app folder: config/deploy.yml, its staging overlay, .kamal/secrets, a policy. */
function app(): string {
  const dir = mkdtempSync(join(root, 'app-'));
  mkdirSync(join(dir, 'config'));
  mkdirSync(join(dir, '.kamal'));
  writeFileSync(join(dir, 'config/deploy.yml'), CONFIG);
  writeFileSync(join(dir, 'config/deploy.staging.yml'), 'servers:\n  web:\n    hosts: [2.2.2.2]\n');
  writeFileSync(join(dir, '.kamal/secrets'), 'KAMAL_REGISTRY_PASSWORD=hunter2\n');
  writeFileSync(join(dir, 'policy.yml'), SHIPPED_POLICY);
  return dir;
}

/** The file each slot names, relative to the app, and the command that reads it. */
const SLOTS = {
  config: { path: 'alt/deploy.yml', args: (p: string) => ['targets', '--version', 'v1', '-c', p] },
  overlay: { path: 'config/deploy.staging.yml', args: () => ['targets', '--version', 'v1', '-d', 'staging'] },
  secrets: { path: '.kamal/secrets', args: () => ['targets', '--version', 'v1'] },
  policy: { path: 'alt/policy.yml', args: (p: string) => ['policy', 'check', '--policy', p] },
} as const;
type Slot = keyof typeof SLOTS;

/** A good file for the slot, to link to. */
function goodContent(slot: Slot): string {
  return slot === 'config' ? CONFIG : slot === 'overlay' ? 'servers:\n  web:\n    hosts: [2.2.2.2]\n' : slot === 'secrets' ? 'KAMAL_REGISTRY_PASSWORD=x\n' : SHIPPED_POLICY;
}

async function place(dir: string, slot: Slot, kind: 'fifo' | 'folder' | 'device' | 'socket' | 'link'): Promise<string> {
  const rel = SLOTS[slot].path;
  const abs = join(dir, rel);
  mkdirSync(dirname(abs), { recursive: true });
  rmSync(abs, { force: true });
  if (kind === 'fifo') execFileSync('mkfifo', [abs]);
  else if (kind === 'folder') mkdirSync(abs);
  else if (kind === 'device') symlinkSync('/dev/zero', abs);
  else if (kind === 'link') {
    writeFileSync(join(dir, `real-${slot}`), goodContent(slot));
    symlinkSync(join(dir, `real-${slot}`), abs);
  } else {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(abs, r));
    expect(lstatSync(abs).isSocket()).toBe(true);
  }
  return rel;
}

describe('file kinds: only a regular file is read', () => {
  for (const slot of Object.keys(SLOTS) as Slot[]) {
    for (const kind of ['fifo', 'device', 'socket'] as const) {
      it(`${slot}: a ${kind} is refused at once, naming the file`, async () => {
        const dir = app();
        const rel = await place(dir, slot, kind);
        const started = Date.now();
        const r = await run(SLOTS[slot].args(rel), dir);
        expectRefused(r, rel, /not a regular file/, kind === 'fifo' ? /named pipe/ : kind === 'device' ? /character device/ : /socket/);
        expect(Date.now() - started).toBeLessThan(RUN_TIMEOUT_MS);
      });
    }
    it(`${slot}: a symbolic link to a regular file is read`, async () => {
      const dir = app();
      const rel = await place(dir, slot, 'link');
      const r = await run(SLOTS[slot].args(rel), dir);
      expect(r.code, r.stderr).toBe(0);
    });
  }

  it('a folder as config, overlay or policy is refused naming it (a folder as secrets file is no secrets file, as in Kamal)', async () => {
    for (const slot of ['config', 'overlay', 'policy'] as const) {
      const dir = app();
      const rel = await place(dir, slot, 'folder');
      expectRefused(await run(SLOTS[slot].args(rel), dir), rel);
    }
  });

  it('-c /dev/stdin (a pipe here) and -c /dev/zero are refused, not read', async () => {
    const dir = app();
    expectRefused(await run(['targets', '--version', 'v1', '-c', '/dev/stdin'], dir, CONFIG), '/dev/stdin', /not a regular file/);
    expectRefused(await run(['targets', '--version', 'v1', '-c', '/dev/zero'], dir), '/dev/zero', /character device/);
  });

  it('--key and --checkpoint-key naming a named pipe are refused, naming the flag and the file', async () => {
    const dir = app();
    execFileSync('mkfifo', [join(dir, 'cosign.pub')]);
    expectRefused(await run(['verify', '--version', 'v1', '--key', 'cosign.pub'], dir), '--key cosign.pub', /named pipe/);
    expectRefused(await run(['ledger', 'checkpoint', '--ledger', 'l.jsonl', '--checkpoint-key', 'cosign.pub'], dir), '--checkpoint-key cosign.pub', /named pipe/);
  });

  it('--ledger naming a named pipe or /dev/zero is refused, not read forever', async () => {
    const dir = app();
    execFileSync('mkfifo', [join(dir, 'ledger.jsonl')]);
    for (const ledger of ['ledger.jsonl', '/dev/zero']) {
      for (const args of [
        ['ledger', 'verify', '--ledger', ledger],
        ['ledger', 'show', '--ledger', ledger],
      ]) {
        expectRefused(await run(args, dir), ledger, /not a regular file/);
      }
    }
  });

  it('a trusted root and Docker config.json that are named pipes are refused with ConfigError (in-process)', async () => {
    const dir = mkdtempSync(join(root, 'fifo-'));
    execFileSync('mkfifo', [join(dir, 'trusted_root.json')]);
    execFileSync('mkfifo', [join(dir, 'config.json')]);
    await expect(loadTrustedRoot({ trustedRoot: join(dir, 'trusted_root.json') })).rejects.toThrow(ConfigError);
    await expect(new DockerConfigCredentials({ DOCKER_CONFIG: dir }).get('ghcr.io')).rejects.toThrow(/config\.json: is a named pipe/);
  });
});

/** `size` bytes: the good content padded with a comment (YAML, dotenv) so that it still parses. */
function padded(slot: Slot, size: number): string {
  const good = goodContent(slot);
  const pad = size - Buffer.byteLength(good) - 3;
  return `${good}# ${'x'.repeat(pad)}\n`;
}

describe('file sizes: each kind of file has a limit, and the message names it', () => {
  const limits: Record<Slot, number> = { config: FILE_LIMITS.yaml, overlay: FILE_LIMITS.yaml, secrets: FILE_LIMITS.text, policy: FILE_LIMITS.yaml };
  for (const slot of Object.keys(SLOTS) as Slot[]) {
    it(`${slot}: exactly at the limit loads; one byte more is refused naming the file and the limit`, async () => {
      const dir = app();
      const rel = SLOTS[slot].path;
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), padded(slot, limits[slot]));
      expect(readFileSync(join(dir, rel)).length).toBe(limits[slot]);
      const ok = await run(SLOTS[slot].args(rel), dir);
      expect(ok.code, ok.stderr).toBe(0);
      writeFileSync(join(dir, rel), padded(slot, limits[slot] + 1));
      const limit = limits[slot] >= 1024 * 1024 ? `${limits[slot] / 1024 / 1024} MiB` : `${limits[slot] / 1024} KiB`;
      expectRefused(await run(SLOTS[slot].args(rel), dir), rel, `${(limits[slot] + 1).toLocaleString('en-US')} bytes, more than the ${limit}`);
    });
  }

  it('a 200 MB deploy.yml is refused in seconds, not read until the heap runs out', async () => {
    const dir = app();
    truncateSync(join(dir, 'config/deploy.yml'), 200 * 1024 * 1024); // sparse: costs no disk
    const started = Date.now();
    expectRefused(await run(['targets', '--version', 'v1'], dir), 'config/deploy.yml', '209,715,200 bytes, more than the 256 KiB');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('key files: a public key and the checkpoint key over 64 KiB are refused', async () => {
    const dir = app();
    writeFileSync(join(dir, 'big.pub'), `-----BEGIN PUBLIC KEY-----\n${'A'.repeat(FILE_LIMITS.key)}\n-----END PUBLIC KEY-----\n`);
    expectRefused(await run(['verify', '--version', 'v1', '--key', 'big.pub'], dir), '--key big.pub', /more than the 64 KiB/);
    expectRefused(await run(['ledger', 'checkpoint', '--ledger', 'l.jsonl', '--checkpoint-key', 'big.pub'], dir), '--checkpoint-key big.pub', /more than the 64 KiB/);
  });

  it('a trusted root over its limit is refused with ConfigError naming it (in-process)', async () => {
    const file = join(mkdtempSync(join(root, 'root-')), 'trusted_root.json');
    writeFileSync(file, '');
    truncateSync(file, FILE_LIMITS.trustedRoot + 1);
    await expect(loadTrustedRoot({ trustedRoot: file })).rejects.toThrow(/trusted_root\.json: is 4,194,305 bytes, more than the 4 MiB/);
  });
});

describe('ledger lines: a line longer than any entry is damage, refused naming it, never cut away', () => {
  const MiB = 1024 * 1024;

  async function ledgerWith(n: number): Promise<{ path: string; ledger: FileLedger }> {
    const path = join(mkdtempSync(join(root, 'ledger-')), 'l.jsonl');
    const ledger = new FileLedger(path);
    await ledger.append(
      Array.from({ length: n }, (_, i) => ({
        registry: 'ghcr.io',
        repository: 'acme/app',
        tag: `v${i}`,
        digest: `sha256:${String(i % 10).repeat(64)}`,
        event: 'recorded' as const,
        source: 'record' as const,
      })),
    );
    return { path, ledger };
  }
  const entry = { registry: 'ghcr.io', repository: 'acme/app', tag: 'next', digest: `sha256:${'f'.repeat(64)}`, event: 'recorded' as const, source: 'record' as const };

  it('ledger verify names a 2 MiB line in the middle', async () => {
    const { path } = await ledgerWith(3);
    const lines = readFileSync(path, 'utf8').split('\n');
    writeFileSync(path, [lines[0], 'x'.repeat(2 * MiB), ...lines.slice(1)].join('\n'));
    const r = await run(['ledger', 'verify', '--ledger', path], dirname(path));
    expectRefused(r, `${path}:2`, /longer than 1 MiB/);
  });

  // 2 MiB: the writer finds the line's start in one read; 5 MiB: past its largest read.
  for (const size of [2, 5]) {
    it(`an unterminated ${size} MiB last line is not taken for a torn write: verify refuses it and an append leaves the file byte for byte`, async () => {
      const { path, ledger } = await ledgerWith(2);
      writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from('{"seq":3,' + 'y'.repeat(size * MiB))]));
      const before = readFileSync(path);
      const r = await run(['ledger', 'verify', '--ledger', path], dirname(path));
      expectRefused(r, `${path}:3`, /longer than 1 MiB/);
      await expect(ledger.append([entry])).rejects.toThrow(LedgerError);
      await expect(ledger.append([entry])).rejects.toThrow(/:3: line longer than 1 MiB/);
      expect(readFileSync(path).equals(before)).toBe(true);
    });

    it(`a ${size} MiB run of NUL bytes at the end (a power loss after the file grew) is still a torn write: the next append removes it and keeps every entry`, async () => {
      const { path, ledger } = await ledgerWith(2);
      const entries = readFileSync(path);
      writeFileSync(path, Buffer.concat([entries, Buffer.alloc(size * MiB)]));
      expect((await new FileLedger(path).verify()).ok).toBe(true);
      const [added] = await ledger.append([entry]);
      expect(added!.seq).toBe(3);
      const after = readFileSync(path);
      expect(after.subarray(0, entries.length).equals(entries)).toBe(true);
      expect(after.toString('utf8').trimEnd().split('\n')).toHaveLength(3);
      expect((await new FileLedger(path).verify()).ok).toBe(true);
    });
  }

  it('the parser says the same whatever the chunks: exactly 1 MiB is an ordinary bad line, one byte more is too long', async () => {
    const { path } = await ledgerWith(2);
    const [first, second] = readFileSync(path, 'utf8').split('\n');
    for (const [length, reason] of [
      [MiB, 'not valid JSON'],
      [MiB + 1, 'line longer than 1 MiB'],
    ] as const) {
      const buf = Buffer.from(`${first}\n${'z'.repeat(length)}\n${second}\n`);
      for (const size of [7, 65_536, MiB, buf.length]) {
        const parser = new LedgerParser();
        for (let i = 0; i < buf.length; i += size) parser.feed(buf.subarray(i, i + size));
        const parsed = parser.finish();
        expect(parsed.firstBroken, `chunks of ${size}`).toEqual({ seq: 2, line: 2, reason: expect.stringContaining(reason) as string });
        expect(parsed.lines).toBe(3);
      }
      expect(parseLedger(buf).firstBroken?.reason).toContain(reason);
    }
  });

  it('a writer never writes a line a reader would refuse: an entry over 512 KiB is refused and nothing is written', async () => {
    const { path, ledger } = await ledgerWith(1);
    const before = readFileSync(path);
    const platformDigests = Object.fromEntries(Array.from({ length: 7000 }, (_, i) => [`linux/arch${i}`, `sha256:${'a'.repeat(64)}`]));
    await expect(ledger.append([{ ...entry, platformDigests }])).rejects.toThrow(LedgerUnavailableError);
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});
