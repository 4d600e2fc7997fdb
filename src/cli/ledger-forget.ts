import { UsageError } from '../errors.js';
import { readTag } from '../ledger/observe.js';
import { formatTagRef, parseTagRef } from '../ledger/tag-ref.js';
import type { NewEntry } from '../ledger/types.js';
import { ledgerAlreadyForgottenReport, ledgerForgottenReport } from '../report/ledger-models.js';
import { checkpointSigner, signAfterWrite, type CheckpointFlags } from './checkpoint-options.js';
import { actorFrom, openLedgerFor, type LedgerFlags } from './ledger-options.js';
import type { Io } from './io.js';

/**
 * `kamal-gate ledger forget REF`: stop tracking a tag (a base image tag recorded by an older
 * version, a tag the app no longer deploys). Written as its own `forgotten` event with the actor:
 * nothing is removed, the history stays, and a later `record` approves the tag afresh.
 */
export async function ledgerForgetCommand(ref: string, opts: LedgerFlags & CheckpointFlags & { format: 'text' | 'json' }, io: Io): Promise<number> {
  const p = parseTagRef(ref);
  const signer = await checkpointSigner(opts, io.env, false);
  if (!p || p.digest) throw new UsageError(`ledger forget ${ref}: name a tag (REGISTRY/REPOSITORY:TAG), as \`kamal-gate ledger show\` lists them`);
  const ledger = (await openLedgerFor(opts, io, undefined, { mustExist: true }))!;
  try {
    const shown = formatTagRef(p.tag);
    const { history, state, kind } = await readTag(ledger, p.tag);
    if (!history.length) throw new UsageError(`${shown} is not in ${ledger.location}: nothing to forget (\`kamal-gate ledger show\` lists the tags)`);
    if (state.forgotten) {
      io.out(opts.format === 'json' ? JSON.stringify(ledgerAlreadyForgottenReport(shown), null, 2) + '\n' : `${shown} is already forgotten; nothing written\n`);
      return 0;
    }
    const actor = actorFrom(io.env) ?? (io.env['USER'] ? `user:${io.env['USER']}` : undefined);
    const entry: NewEntry = { ...p.tag, digest: null, event: 'forgotten', source: 'ledger', ...(actor ? { actor } : {}) };
    const [stored] = await ledger.append([entry]);
    await signAfterWrite(ledger, signer, io);
    if (opts.format === 'json') {
      io.out(JSON.stringify(ledgerForgottenReport(shown, stored!.seq, state.approved ?? null, kind), null, 2) + '\n');
    } else {
      io.out(
        `${shown} forgotten (entry ${stored!.seq}${actor ? `, by ${actor}` : ''}): drift no longer checks it` +
          `${state.approved ? `; it was approved at ${state.approved}` : ''}. A later \`kamal-gate record\` approves it afresh.\n`,
      );
    }
    return 0;
  } finally {
    await ledger.close();
  }
}
