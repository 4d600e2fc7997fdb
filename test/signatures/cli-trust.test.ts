/** `kamal-gate trust refresh` with no reachable TUF repository fails cleanly: exit 3, a message, no stack. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { stdinOf } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

it('trust refresh exits 3 when the TUF repository cannot be reached', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kamal-gate-trust-'));
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await main(['node', 'kamal-gate', 'trust', 'refresh', '--cache-dir', dir, '--mirror', 'http://127.0.0.1:9'], {
      out: (s) => void out.push(s),
      err: (s) => void err.push(s),
      env: {},
      cwd: dir,
      isTty: false,
      stdin: stdinOf(''),
      onSignal: () => () => undefined,
    });
    expect(code).toBe(3);
    expect(err.join('')).toContain('could not refresh the Sigstore trusted root');
    expect(err.join('')).not.toMatch(/\n\s+at /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
