/**
 * The CLI's in-process entry: commands read their folder, environment, standard input, output and
 * signals from the Io they are given (cli/io.ts), never from `process`, so a run can be driven with
 * its own (the tests do, and a program embedding kamal-gate can).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stdinOf, type Io } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

const CLI_DIR = resolve(import.meta.dirname, '..', '..', 'src', 'cli');

function capture(cwd: string, env: NodeJS.ProcessEnv, input?: string): { io: Io; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: { out: (s) => void (out += s), err: (s) => void (err += s), env, cwd, isTty: false, stdin: stdinOf(input), onSignal: () => () => undefined },
    out: () => out,
    err: () => err,
  };
}

describe('the in-process entry', () => {
  it('no command module reads process.cwd, process.env, the standard streams or signals: only cli/io.ts does', () => {
    const files = readdirSync(CLI_DIR).filter((f) => f.endsWith('.ts') && f !== 'io.ts');
    expect(files.length).toBeGreaterThan(15);
    const offenders = files.filter((f) => /process\.(cwd|env|stdin|stdout|stderr|on|once|off|exit|exitCode|argv)\b/.test(readFileSync(join(CLI_DIR, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('reads the Kamal config of the folder it is given, not of the process, with the environment it is given', async () => {
    const app = mkdtempSync(join(tmpdir(), 'kg-io-'));
    mkdirSync(join(app, 'config'));
    writeFileSync(
      join(app, 'config', 'deploy.yml'),
      'service: shop\nimage: acme/shop\nservers: [10.0.0.1]\nregistry:\n  server: ghcr.io\n  username: u\n  password: [KAMAL_REGISTRY_PASSWORD]\nbuilder:\n  arch: amd64\n',
    );
    expect(process.cwd()).not.toBe(app);
    const run = capture(app, { KAMAL_VERSION: 'v7', KAMAL_REGISTRY_PASSWORD: 'not-printed' });
    const code = await main(['node', 'kamal-gate', 'targets', '--format', 'json'], run.io);
    expect(code, run.err()).toBe(0);
    const report = JSON.parse(run.out()) as { targets: Array<{ ref: string }> };
    expect(report.targets.map((t) => t.ref)).toContain('ghcr.io/acme/shop:v7');
  });

  it('reads --registry-password-stdin from the standard input it is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-io-'));
    const empty = capture(dir, {}, '');
    expect(await main(['node', 'kamal-gate', 'inspect', '127.0.0.1:9/x:y', '--registry-username', 'u', '--registry-password-stdin'], empty.io)).toBe(2);
    expect(empty.err()).toContain('standard input was empty');
  });
});
