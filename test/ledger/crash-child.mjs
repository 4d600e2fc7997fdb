// A child process for the crash tests (crash.test.ts): argv = module location batchSizes(comma list).
// Appends batches in a loop through the real file backend, printing `ok <seq> <hash>` (the last
// entry of the batch) after each append has returned, until it is killed.
import { pathToFileURL } from 'node:url';

const [modulePath, location, sizes] = process.argv.slice(2);
const { openLedger } = await import(pathToFileURL(modulePath).href);
const batchSizes = sizes.split(',').map(Number);
const ledger = await openLedger(location);
process.stdout.write(`ready ${process.pid}\n`);
for (let round = 0; ; round++) {
  const n = batchSizes[round % batchSizes.length];
  const batch = Array.from({ length: n }, (_, i) => ({
    registry: 'reg.test',
    repository: `crash/p${process.pid}`,
    tag: `r${round}-${i}`,
    digest: `sha256:${(round * 100000 + i).toString(16).padStart(64, '0')}`,
    event: 'recorded',
    source: 'record',
    actor: `pid-${process.pid}`,
  }));
  const stored = await ledger.append(batch);
  const last = stored[stored.length - 1];
  process.stdout.write(`ok ${last.seq} ${last.hash}\n`);
}
