// Runs in its own process so peak memory is the ledger's alone: opens a ledger built by
// bench/ledger.ts, loads it (reading and checking every entry's hash and link), looks tags up.
// Plain JavaScript on dist/, the code users run.  node bench/ledger-probe.mjs LOCATION TAGS_FILE
import { readFileSync } from 'node:fs';
import { openLedger } from '../dist/ledger/index.js';

const [location, tagsFile] = process.argv.slice(2);
const tags = JSON.parse(readFileSync(tagsFile, 'utf8'));
const t0 = performance.now();
const ledger = await openLedger(location);
const all = await ledger.tags(); // the first read loads and checks the whole chain
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
    peakRssBytes,
  }) + '\n',
);
