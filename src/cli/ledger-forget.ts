import { UsageError } from '../errors.js';
import { tagKind, tagState } from '../ledger/state.js';
import type { NewEntry } from '../ledger/types.js';
import { parseReference } from '../registry/reference.js';
import { checkpointSigner, signAfterWrite, type CheckpointFlags } from './checkpoint-options.js';
import { actorFrom, openLedgerFor, type LedgerFlags } from './ledger-options.js';
import type { Io } from './main.js';

/**
 * `kamal-gate ledger forget REF`: stop tracking a tag (a base image tag recorded by an older
 * version, a tag the app no longer deploys). Written as its own `forgotten` event with the actor:
 * nothing is removed, the history stays, and a later `record` approves the tag afresh.
 */
export async function ledgerForgetCommand(ref: string, opts: LedgerFlags & CheckpointFlags & { format: 'text' | 'json' }, io: Io): Promise<number> {
  const p = parseReference(ref);
  const signer = await checkpointSigner(opts, io.env, false);
  if (!p.tag || p.digest) throw new UsageError(`ledger forget ${ref}: name a tag (REGISTRY/REPOSITORY:TAG), as \`kamal-gate ledger show\` lists them`);
  const ledger = (await openLedgerFor(opts, io, undefined, { mustExist: true }))!;
  try {
    const shown = `${p.registry}/${p.repository}:${p.tag}`;
    const history = await ledger.history(p.registry, p.repository, p.tag);
    if (!history.length) throw new UsageError(`${shown} is not in ${ledger.location}: nothing to forget (\`kamal-gate ledger show\` lists the tags)`);
    const state = tagState(history);
    if (state.forgotten) {
      io.out(opts.format === 'json' ? JSON.stringify({ schema: 'kamal-gate/ledger-forget/v1', ref: shown, written: false, reason: 'already forgotten' }, null, 2) + '\n' : `${shown} is already forgotten; nothing written\n`);
      return 0;
    }
    const actor = actorFrom(io.env) ?? (io.env['USER'] ? `user:${io.env['USER']}` : undefined);
    const entry: NewEntry = { registry: p.registry, repository: p.repository, tag: p.tag, digest: null, event: 'forgotten', source: 'ledger', ...(actor ? { actor } : {}) };
    const [stored] = await ledger.append([entry]);
    await signAfterWrite(ledger, signer, io);
    const kind = tagKind(history);
    if (opts.format === 'json') {
      io.out(JSON.stringify({ schema: 'kamal-gate/ledger-forget/v1', ref: shown, written: true, seq: stored!.seq, previousApproval: state.approved ?? null, kind }, null, 2) + '\n');
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
