import { tagState } from '../ledger/state.js';
import { formatTagRef } from '../ledger/tag-ref.js';
import { parseReference } from '../registry/reference.js';
import { ledgerExportReport, ledgerHistoryReport, ledgerTagRow, ledgerTagsReport, ledgerVerifyReport, type CheckpointStatus, type LedgerTagRow } from '../report/ledger-models.js';
import { table } from '../report/table.js';
import { checkpointRoot, openLedgerFor, type LedgerFlags } from './ledger-options.js';
import type { Io } from './io.js';
import { writeUserFile } from '../user-file.js';

/**
 * `kamal-gate ledger verify`: checks the whole hash chain and names the first broken entry, then the
 * newest signed checkpoint against the chain (a truncated or rewritten ledger is exit 2, naming the seq).
 */
export async function ledgerVerifyCommand(opts: LedgerFlags & { format: 'text' | 'json' }, io: Io): Promise<number> {
  const ledger = (await openLedgerFor(opts, io, undefined, { mustExist: true, checkHead: false }))!;
  try {
    // Every entry checked in one pass that keeps none in memory, then the checkpoint against it.
    const { verifyWithHead } = await import('../ledger/head.js');
    const { report, head, problem: checkpointProblem } = await verifyWithHead(ledger, checkpointRoot(opts, io.env));
    const checkpoint: CheckpointStatus | null = head?.checkpoint ? { seq: head.checkpoint.seq, time: head.checkpoint.time, signer: head.signer ?? 'unknown', unsigned: head.unsigned } : null;
    const code = report.ok && !checkpointProblem ? 0 : 2;
    if (opts.format === 'json') {
      io.out(JSON.stringify(ledgerVerifyReport(ledger.location, report, checkpoint, checkpointProblem, code), null, 2) + '\n');
    } else if (checkpointProblem) {
      io.out(`${checkpointProblem}\n`);
    } else if (report.ok) {
      io.out(
        `${ledger.location}: ${report.entries} entries, hash chain intact${report.repairedTornLine ? ' (a torn last line from an interrupted write is ignored; the next write removes it)' : ''}\n`,
      );
      io.out(
        checkpoint
          ? `checkpoint: seq ${checkpoint.seq} signed ${checkpoint.time} by ${checkpoint.signer}${checkpoint.unsigned ? `; ${checkpoint.unsigned} entries after it are not covered by a signature` : ''}\n`
          : 'checkpoint: none (sign the head with `kamal-gate ledger checkpoint`, or record with --checkpoint-key)\n',
      );
    } else {
      const b = report.firstBroken!;
      io.out(
        `${ledger.location}${b.line ? `:${b.line}` : ''}: the ledger does not verify at entry ${b.seq}: ${b.reason}\n` +
          `Entries from there on cannot be trusted. Restore the ledger from version control (or a database backup) and run kamal-gate drift.\n`,
      );
    }
    return code;
  } finally {
    await ledger.close();
  }
}

/** `kamal-gate ledger show [REF]`: every tag with its approved digest, or one tag's history. */
export async function ledgerShowCommand(ref: string | undefined, opts: LedgerFlags & { format: 'text' | 'json' }, io: Io): Promise<number> {
  const ledger = (await openLedgerFor(opts, io, undefined, { mustExist: true }))!;
  try {
    if (ref) {
      const p = parseReference(ref);
      const history = await ledger.history(p.registry, p.repository, p.tag ?? 'latest');
      // A REF with a digest and no tag is looked up as `latest` but shown as given (`…:undefined`), as it always was.
      const shown = formatTagRef({ registry: p.registry, repository: p.repository, tag: String(p.tag) });
      if (opts.format === 'json') io.out(JSON.stringify(ledgerHistoryReport(shown, history), null, 2) + '\n');
      else if (!history.length) io.out(`${shown} is not in ${ledger.location}\n`);
      else {
        const rows = history.map((e) => [String(e.seq), e.time, e.event, e.source, e.digest ?? '-', e.actor ?? '']);
        const state = tagState(history);
        io.out(`${table(['SEQ', 'TIME', 'EVENT', 'SOURCE', 'DIGEST', 'ACTOR'], rows)}\napproved: ${state.approved ?? 'none'}\n`);
      }
      return 0;
    }
    const summary: LedgerTagRow[] = (await ledger.histories()).map(({ tag, history }) => ledgerTagRow(tag, tagState(history)));
    if (opts.format === 'json') io.out(JSON.stringify(ledgerTagsReport(ledger.location, summary), null, 2) + '\n');
    else {
      const rows = summary.map((s) => [s.ref, s.approved ?? '-', s.current === s.approved ? '' : s.current === null ? 'deleted' : `now ${s.current}`, `${s.lastEvent} ${s.lastTime}`]);
      io.out(`${table(['TAG', 'APPROVED', 'DRIFT', 'LAST'], rows)}\n${summary.length} tags in ${ledger.location}\n`);
    }
    return 0;
  } finally {
    await ledger.close();
  }
}

/** `kamal-gate ledger export`: every entry as JSON, for backups, audits or moving backends. */
export async function ledgerExportCommand(opts: LedgerFlags & { output?: string }, io: Io): Promise<number> {
  const ledger = (await openLedgerFor(opts, io, undefined, { mustExist: true }))!;
  try {
    const entries = await ledger.all();
    const text = JSON.stringify(ledgerExportReport(ledger.location, entries), null, 2) + '\n';
    if (opts.output) {
      await writeUserFile(opts.output, text, { flag: '--output' });
      io.err(`${entries.length} entries written to ${opts.output}\n`);
    } else io.out(text);
    return 0;
  } finally {
    await ledger.close();
  }
}
