#!/usr/bin/env node
// `kamal-gate --version` answers before any other module loads; everything else goes through main.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { VERSION } = await import('./version.js');
  process.stdout.write(`${VERSION}\n`);
} else {
  const { commandProcessFlags, exitWhenWritten } = await import('./cli/io.js');
  commandProcessFlags();
  const { main } = await import('./cli/main.js');
  main(process.argv).then(exitWhenWritten, () => exitWhenWritten(3));
}
