// Runs in its own process so peak memory is the ledger's alone: opens a ledger built by
// bench/ledger.ts and loads it, then looks tags up. Plain JavaScript on dist/, the code users run.
//   node bench/ledger-probe.mjs LOCATION TAGS_FILE full|checkpoint
// `full`: the first read loads the whole chain and checks every entry's hash and link (no checkpoint
// looked at). `checkpoint`: what every command does on opening a ledger (src/cli/ledger-options.ts):
// the load, then the newest signed checkpoint checked against it and its signature verified.
import { readFileSync } from 'node:fs';
import { checkHead } from '../dist/ledger/head.js';
import { openLedger } from '../dist/ledger/index.js';

const [location, tagsFile, mode] = process.argv.slice(2);
if (mode !== 'full' && mode !== 'checkpoint') throw new Error('mode: full or checkpoint');
const tags = JSON.parse(readFileSync(tagsFile, 'utf8'));
const t0 = performance.now();
const ledger = await openLedger(location);
let signedSeq = 0;
if (mode === 'checkpoint') {
  const head = await checkHead(ledger);
  if (!head.checkpoint) throw new Error(`${location} has no checkpoint`);
  signedSeq = head.checkpoint.seq;
}
const all = await ledger.tags();
const loadMs = performance.now() - t0;
let found = 0;
const t1 = performance.now();
for (const [registry, repository, tag] of tags) found += (await ledger.history(registry, repository, tag)).length > 0 ? 1 : 0;
const lookupMs = performance.now() - t1;
if (found !== tags.length) throw new Error(`only ${found} of ${tags.length} looked-up tags have a history`);
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
const entries = (await ledger.all()).length;
await ledger.close();
process.stdout.write(
  JSON.stringify({
    loadMs,
    lookupUs: (lookupMs * 1000) / tags.length,
    lookups: tags.length,
    tags: all.length,
    entries,
    signedSeq,
    peakRssBytes,
  }) + '\n',
);
