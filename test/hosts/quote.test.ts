/**
 * shellQuote, the one quoting function for the remote shell: for any string it either refuses (a
 * ConfigError naming the value) or returns one word that a real POSIX shell (Debian's /bin/sh, dash,
 * and bash, root's login shell) prints back exactly; hostile values never run anything.
 */
import { execFile as execFileCb } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { MAX_QUOTED_LENGTH, shellQuote } from '../../src/hosts/quote.js';

const execFile = promisify(execFileCb);
const SHELLS = ['/bin/sh', '/bin/bash'];
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kamal-gate-quote-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function hasLoneSurrogate(s: string): boolean {
  return s !== Buffer.from(s, 'utf8').toString('utf8');
}

function quoteOrUndefined(value: string): string | undefined {
  try {
    return shellQuote(value, 'the test value');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toMatch(/^the test value /);
    expect((e as Error).message).not.toMatch(/\n/);
    return undefined;
  }
}

/** Runs `printf '%s\0' <w1> <w2> …` in `shell` (cwd: the temp dir) and returns the printed values. */
async function printBack(shell: string, words: string[]): Promise<string[]> {
  const { stdout } = await execFile(shell, ['-c', `printf '%s\\0' ${words.join(' ')}`], { cwd: dir, encoding: 'buffer', maxBuffer: 64 << 20 });
  const out = stdout.toString('utf8').split('\0');
  expect(out.pop()).toBe('');
  return out;
}

const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...`'"\\$\`;|&<>(){}[]*?~!#% \t\n=a-/`.split('')), maxLength: 30 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
);

describe('shellQuote', () => {
  it('for any string: refuses exactly the unsafe ones, and a real shell prints the others back exactly (a batch of 3000, dash and bash)', async () => {
    const values = fc.sample(anyString, { numRuns: 3000, seed: 18 });
    const safe: string[] = [];
    for (const v of values) {
      const q = quoteOrUndefined(v);
      const unsafe = UNSAFE.test(v) || hasLoneSurrogate(v);
      expect(q === undefined, JSON.stringify(v)).toBe(unsafe);
      if (q !== undefined) safe.push(v);
    }
    expect(safe.length).toBeGreaterThan(1000);
    for (const shell of SHELLS) {
      const printed = await printBack(
        shell,
        safe.map((v) => shellQuote(v, 'v')),
      );
      expect(printed).toEqual(safe);
    }
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });

  it('one value at a time: `/bin/sh -c "printf %s <quoted>"` prints it back', async () => {
    await fc.assert(
      fc.asyncProperty(anyString, async (v) => {
        const q = quoteOrUndefined(v);
        if (q === undefined) return;
        const { stdout } = await execFile('/bin/sh', ['-c', `printf %s ${q}`], { cwd: dir, encoding: 'buffer' });
        expect(stdout.toString('utf8')).toBe(v);
      }),
      { numRuns: 150, seed: 1818 },
    );
  });

  it('hostile values never execute: the marker file is never created', async () => {
    const marker = join(dir, 'marker');
    const hostile = [
      '$(touch marker)',
      '`touch marker`',
      '; touch marker',
      '&& touch marker',
      '| touch marker',
      '> marker',
      "'; touch marker; '",
      "'$(touch marker)'",
      '"$(touch marker)"',
      "\\'; touch marker; #",
      "'\\''; touch marker #",
      '${IFS}touch${IFS}marker',
      '$((0))$(touch marker)',
      '<(touch marker)',
      '* ? [a] ~ ~root {a,b} !! # %',
      'app\'"`$;|&<>(){}',
      '-e touch marker',
      'a\\',
      '\\',
      "'",
      "''",
      '',
    ];
    for (const shell of SHELLS) {
      expect(
        await printBack(
          shell,
          hostile.map((v) => shellQuote(v, 'v')),
        ),
      ).toEqual(hostile);
      for (const v of hostile) {
        await execFile(shell, ['-c', `printf %s ${shellQuote(v, 'v')} >/dev/null`], { cwd: dir });
        await execFile(shell, ['-c', `echo ${shellQuote(v, 'v')} >/dev/null`], { cwd: dir });
      }
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses NUL, line breaks, other control characters, lone surrogates and overlong values, naming the value and what it is', () => {
    const refused: [string, RegExp][] = [
      ['app\0; touch marker', /a NUL character at position 4/],
      ['app\n touch marker', /a line break at position 4/],
      ['app\rtouch marker', /a line break/],
      ['app\u2028touch', /a line break/],
      ['app\u001b[2J', /a control character \(U\+001B\)/],
      ['app\u007f', /U\+007F/],
      ['app\u0085', /U\+0085/],
      ['app\ttab', /U\+0009/],
      ['app\ud800', /an unpaired UTF-16 surrogate/],
      ['\udc00app', /an unpaired UTF-16 surrogate/],
      ['x'.repeat(MAX_QUOTED_LENGTH + 1), /4097 characters long; kamal-gate passes at most 4096/],
    ];
    for (const [value, message] of refused) {
      expect(() => shellQuote(value, 'ssh.user of host1'), JSON.stringify(value)).toThrow(ConfigError);
      expect(() => shellQuote(value, 'ssh.user of host1')).toThrow(message);
      expect(() => shellQuote(value, 'ssh.user of host1')).toThrow(/^ssh\.user of host1 /);
    }
    // The message shows the value escaped, on one line.
    expect(() => shellQuote('a\u001b[31mb', 'the image')).toThrow('the image "a\\u001b[31mb" contains');
    // Paired surrogates (emoji) and other printable Unicode are fine.
    expect(shellQuote('app-😀-é', 'v')).toBe("'app-😀-é'");
    expect(shellQuote('x'.repeat(MAX_QUOTED_LENGTH), 'v')).toHaveLength(MAX_QUOTED_LENGTH + 2);
  });

  it('always one single-quoted word', () => {
    expect(shellQuote('registry:5000/app@sha256:abc', 'v')).toBe("'registry:5000/app@sha256:abc'");
    expect(shellQuote("it's", 'v')).toBe("'it'\\''s'");
    expect(shellQuote('', 'v')).toBe("''");
  });
});
