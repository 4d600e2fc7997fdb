#!/usr/bin/env node
// The package's `kamal-gate` command: runs the single-file build, dist/kamal-gate.mjs (every
// dependency, the policies and the trusted root in one file; scripts/bundle.mjs), with Node's
// compile cache on where Node has it (22.1 and later; NODE_DISABLE_COMPILE_CACHE=1 turns it off):
// the bundle is compiled once, not on every run. `--version` answers without loading it.
import { lstatSync, mkdirSync, readFileSync } from 'node:fs';
import module from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where Node keeps the compiled bundle. The cache holds code Node runs, so it is kept in this
 * user's cache folder ($XDG_CACHE_HOME/kamal-gate/node-compile-cache, else ~/.cache/…), never in the
 * shared temporary folder Node picks by default, where another user of the machine could plant it;
 * and only when that folder and the one above it are real folders of this user that nobody else
 * can write (as the content cache is checked). Otherwise no compile cache: slower, never unsafe.
 * $NODE_COMPILE_CACHE, when set, is the user's choice and Node's to use.
 */
function compileCacheDir() {
  const parent = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kamal-gate');
  const dir = join(parent, 'node-compile-cache');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const uid = process.geteuid?.();
    for (const folder of [parent, dir]) {
      const st = lstatSync(folder);
      if (!st.isDirectory()) return undefined;
      if (uid !== undefined && (st.uid !== uid || st.mode & 0o022)) return undefined;
    }
    return dir;
  } catch {
    return undefined;
  }
}

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  if (module.enableCompileCache && !process.env.NODE_COMPILE_CACHE && !process.env.NODE_DISABLE_COMPILE_CACHE) {
    const dir = compileCacheDir();
    if (dir) module.enableCompileCache(dir);
  }
  await import('../dist/kamal-gate.mjs');
}
