/**
 * The repository stands alone: no file of the project reads anything beside the clone (the
 * workplace's sibling folder of notes and vectors is for people, not for the tests or the tool).
 * Third-party data lives in fixtures/ with its source and licence.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
// The sibling folder's name, assembled here so that no line of this file names the path itself.
const NAME = String.fromCharCode(115, 104, 97, 114, 101, 100);
const UP = String.raw`\.\.`;
// A path into the sibling folder, written as one string (`../<name>`, `../../../<name>`) or as path
// segments ('..', '..', '..', '<name>').
const PATTERNS = [new RegExp(`${UP}/(?:${UP}/)*${NAME}\\b`), new RegExp(`'${UP}',\\s*(?:'${UP}',\\s*)*'${NAME}'`)];

describe('the repository stands alone', () => {
  it('no tracked source, test, script or package file reads the sibling shared folder', () => {
    const files = execFileSync('git', ['ls-files', 'src', 'test', 'scripts', 'bench', 'package.json', 'vitest.config.ts', '.ci'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f && /\.(ts|mts|mjs|js|json|sh)$|^\.ci\//.test(f) && f !== 'test/stands-alone.test.ts');
    expect(files.length).toBeGreaterThan(50);
    const offenders = files.filter((f) => PATTERNS.some((p) => p.test(readFileSync(join(ROOT, f), 'utf8'))));
    expect(offenders).toEqual([]);
  });
});
