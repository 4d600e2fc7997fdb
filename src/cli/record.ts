import { ledgerTag, observation } from '../checks/ledger.js';
import { classify, observationEntry } from '../ledger/state.js';
import type { NewEntry } from '../ledger/types.js';
import { table } from '../report/table.js';
import { resolutionExitCode, resolveTargets } from '../verify.js';
import { loadTargets, makeClient, parsePlatforms, type RegistryOptions, type TargetOptions } from './context.js';
import { actorFrom, openLedgerFor, type LedgerFlags } from './ledger-options.js';
import type { Io } from './main.js';

export interface RecordOptions extends TargetOptions, RegistryOptions, LedgerFlags {
  format: 'text' | 'json';
}

const CHANGE: Record<string, string> = {
  unrecorded: 'recorded',
  same: 'unchanged',
  restored: 'restored',
  overwritten: 'moved (new digest approved)',
  rolled_back: 'moved back (older digest approved)',
};

/**
 * `kamal-gate record`: run by the build pipeline right after the push. What each tag points to now
 * becomes the digest the ledger approves for it.
 */
export async function recordCommand(refs: string[], opts: RecordOptions, io: Io): Promise<number> {
  const { plan, targets } = await loadTargets(refs, opts, io.env);
  const ledger = (await openLedgerFor(opts, io, plan))!;
  try {
    const client = await makeClient(opts, targets, io.env, (m) => io.err(`warning: ${m}\n`));
    try {
      const results = await resolveTargets(client, targets, { platforms: parsePlatforms(opts.platform) });
      const rows: Array<{ ref: string; digest: string; change: string; previous?: string }> = [];
      const entries: NewEntry[] = [];
      const actor = actorFrom(io.env);
      for (const r of results) {
        const tag = ledgerTag(r);
        if (!tag || !r.subject) continue;
        const history = await ledger.history(tag.registry, tag.repository, tag.tag);
        const observed = observation(r.subject);
        const c = classify(history, observed);
        const entry = observationEntry(tag, observed, c, { source: 'record', ...(actor ? { actor } : {}) }, history);
        if (entry) entries.push(entry);
        rows.push({ ref: `${tag.registry}/${tag.repository}:${tag.tag}`, digest: observed.digest, change: CHANGE[c.kind] ?? c.kind, ...(c.previous && c.previous !== observed.digest ? { previous: c.previous } : {}) });
      }
      if (entries.length) await ledger.append(entries);
      const errors = results.filter((r) => r.error && !r.absent);
      const exitCode = resolutionExitCode(results);
      if (opts.format === 'json') {
        io.out(
          JSON.stringify(
            { schema: 'kamal-gate/record/v1', ledger: ledger.location, recorded: rows, errors: errors.map((r) => ({ ref: r.target.ref, kind: r.error!.kind, message: r.error!.message })), exitCode },
            null,
            2,
          ) + '\n',
        );
      } else {
        let out = table(['IMAGE', 'DIGEST', 'LEDGER'], rows.map((r) => [r.ref, r.digest, r.change])) + '\n';
        for (const r of rows) if (r.previous) out += `note: ${r.ref} was ${r.previous}; the ledger now approves ${r.digest}\n`;
        for (const r of errors) out += `error: ${r.target.ref}: ${r.error!.message}\n`;
        out += `${entries.length} ledger entr${entries.length === 1 ? 'y' : 'ies'} written to ${ledger.location}\n`;
        io.out(out);
      }
      return exitCode;
    } finally {
      await client.close();
    }
  } finally {
    await ledger.close();
  }
}
