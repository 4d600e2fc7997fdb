#!/usr/bin/env node
// Build step: writes dist/trusted_root.json, the Sigstore public-good trusted root carried in
// @sigstore/tuf's seeds.json (TUF target of https://tuf-repo-cdn.sigstore.dev), so verification
// works offline. Extracted from the installed dependency, never hand-copied.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const seedsPath = join(dirname(require.resolve('@sigstore/tuf')), '..', 'seeds.json');
const seeds = JSON.parse(readFileSync(seedsPath, 'utf8'));
const b64 = seeds['https://tuf-repo-cdn.sigstore.dev']?.targets?.['trusted_root.json'];
if (!b64) throw new Error(`${seedsPath}: no trusted_root.json target for the public-good TUF repository`);
const root = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
if (!Array.isArray(root.tlogs) || !Array.isArray(root.certificateAuthorities)) throw new Error('the seeded trusted_root.json has no tlogs or certificateAuthorities');
writeFileSync(new URL('../dist/trusted_root.json', import.meta.url), JSON.stringify(root, null, 2) + '\n');
console.log(`dist/trusted_root.json: ${root.certificateAuthorities.length} CAs, ${root.tlogs.length} tlogs (from ${seedsPath})`);
