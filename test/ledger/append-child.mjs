// A child process for the concurrency tests (children.ts): argv = module location mode worker count.
import { pathToFileURL } from 'node:url';

const [modulePath, location, mode, worker, count] = process.argv.slice(2);
const { openLedger } = await import(pathToFileURL(modulePath).href);

const go = new Promise((resolve) => {
  let input = '';
  process.stdin.on('data', (d) => {
    input += d;
    if (input.includes('go')) resolve();
  });
});

function entry(i) {
  const hex = (Number(worker) * 100000 + i).toString(16).padStart(64, '0');
  return { registry: 'reg.test', repository: `w${worker}`, tag: `t${i}`, digest: `sha256:${hex}`, event: 'recorded', source: 'record', actor: `worker-${worker}` };
}

try {
  if (mode === 'open') {
    process.stdout.write('ready\n');
    await go;
    const ledger = await openLedger(location);
    await ledger.append([entry(0)]);
    await ledger.close();
  } else {
    const ledger = await openLedger(location);
    process.stdout.write('ready\n');
    await go;
    for (let i = 0; i < Number(count); i++) await ledger.append([entry(i)]);
    await ledger.close();
  }
  process.exit(0);
} catch (e) {
  process.stderr.write(`worker ${worker}: ${e?.stack ?? e}\n`);
  process.exit(1);
}
