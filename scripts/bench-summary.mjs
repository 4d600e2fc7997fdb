#!/usr/bin/env node
// Prints the targets every benchmark appended to the summary file (bench/common.ts `targets`) as one
// table: figure, this tool, the peer measured in the same run, the target, PASS or MISS.
//   node scripts/bench-summary.mjs FILE
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
const cells = [['bench', 'figure', 'kamal-gate', 'peer (same run)', 'target', ''], ...rows.map((r) => [r.bench, r.what, r.value, r.peer ?? '-', r.target, r.ok ? 'PASS' : 'MISS'])];
const widths = cells[0].map((_, c) => Math.max(...cells.map((r) => r[c].length)));
for (const [i, r] of cells.entries()) {
  console.log(
    r
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd(),
  );
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
const missed = rows.filter((r) => !r.ok).length;
console.log(`\n${rows.length - missed} of ${rows.length} targets met${missed ? `, ${missed} missed` : ''}`);
