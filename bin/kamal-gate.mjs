#!/usr/bin/env node
// The package's `kamal-gate` command: runs the single-file build, dist/kamal-gate.mjs (every
// dependency, the policies and the trusted root in one file; scripts/bundle.mjs), with Node's
// compile cache on where Node has it (22.1 and later; NODE_DISABLE_COMPILE_CACHE=1 turns it off):
// the bundle is compiled once, not on every run. `--version` answers without loading it.
import { readFileSync } from 'node:fs';
import module from 'node:module';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  module.enableCompileCache?.();
  await import('../dist/kamal-gate.mjs');
}
