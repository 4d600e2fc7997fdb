import { ledgerFinding, ledgerTag, observation } from '../checks/ledger.js';
import { UsageError } from '../errors.js';
import { observe, readTag } from '../ledger/observe.js';
import { formatTagRef, parseTagRef, sameTagRef, unpinnedTagRef } from '../ledger/tag-ref.js';
import type { Ledger, NewEntry, TagRef } from '../ledger/types.js';
import { recordReport, type RecordRow } from '../report/record-model.js';
import { table } from '../report/table.js';
import type { Target, TargetResult } from '../types.js';
import { combineExitCodes, resolveTargets } from '../verify.js';
import { decideConfig } from './record-config.js';
import { defaultConfigHere, loadTargets, makeClient, parsePlatforms, type RegistryOptions, type TargetOptions } from './context.js';
import { checkpointSigner, signAfterWrite, type CheckpointFlags } from './checkpoint-options.js';
import { actorFrom, openLedgerFor, type LedgerFlags } from './ledger-options.js';
import type { Io } from './io.js';

export interface RecordOptions extends TargetOptions, RegistryOptions, LedgerFlags, CheckpointFlags {
  format: 'text' | 'json';
  /** `--approve-move REF@DIGEST`, repeatable: approve a tag that moved, to exactly this digest. */
  approveMove?: string[];
  /** `--approve-config FINGERPRINT`: approve the effective Kamal deploy only when it has this fingerprint. */
  approveConfig?: string;
}

interface MoveRequest {
  tag: TagRef;
  digest: string;
  arg: string;
}

function parseMoves(values: string[] | undefined): MoveRequest[] {
  return (values ?? []).map((arg) => {
    const p = parseTagRef(arg);
    if (!p?.digest) {
      throw new UsageError(`--approve-move ${arg}: name the tag and the digest it must point to (REGISTRY/REPOSITORY:TAG@sha256:…), as \`kamal-gate verify\` or \`ledger show\` prints them`);
    }
    return { tag: p.tag, digest: p.digest, arg };
  });
}

/**
 * `kamal-gate record`: run by the build pipeline right after the push. Approval is an explicit act:
 * a tag the ledger has never approved is approved as it points now (the app image of this version;
 * accessories and the proxy on first use). A tag that points elsewhere than its approved digest is
 * refused (tag.overwritten / tag.rolled_back, exit 1) and stays unapproved until someone names the
 * new digest with `--approve-move REF@DIGEST`, written as its own `approved` event with the actor.
 */
export async function recordCommand(refs: string[], opts: RecordOptions, io: Io): Promise<number> {
  const moves = parseMoves(opts.approveMove);
  const signer = await checkpointSigner(opts, io.env, false);
  // `record --approve-move X@D` alone approves only that move; the Kamal config (when present) only
  // says where the ledger lives.
  const movesOnly = moves.length > 0 && refs.length === 0;
  const hasConfig = opts.configFile !== undefined || opts.destination !== undefined || defaultConfigHere(io);
  // With moves only, the config names where the ledger is and the registry credentials; the app
  // version is not needed (its images are not approved here).
  const loaded = !movesOnly
    ? await loadTargets(refs, opts, io)
    : hasConfig
      ? await loadTargets([], { ...opts, version: opts.version ?? 'approve-move' }, io)
      : { plan: undefined, targets: [] as Target[] };
  const targets = movesOnly ? moves.map((m): Target => ({ ref: formatTagRef(m.tag), role: 'app', name: formatTagRef(m.tag) })) : loaded.targets;
  if (!movesOnly) {
    for (const m of moves) {
      if (!targets.some((t) => sameTag(t.ref, m.tag))) targets.push({ ref: formatTagRef(m.tag), role: 'app', name: formatTagRef(m.tag) });
    }
  }
  const ledger = (await openLedgerFor(opts, io, loaded.plan))!;
  try {
    const client = await makeClient(opts, loaded.targets.length ? loaded.targets : targets, io);
    try {
      const results = await resolveTargets(client, targets, { platforms: parsePlatforms(opts.platform) });
      const actor = actorFrom(io.env) ?? (io.env['USER'] ? `user:${io.env['USER']}` : undefined);
      const { rows, entries, violations: imageViolations } = await decide(ledger, results, moves, actor);
      let violations = imageViolations;
      let configLine = '';
      if (!movesOnly && loaded.plan && loaded.config) {
        const config = await decideConfig(ledger, { plan: loaded.plan, config: loaded.config }, opts.approveConfig, actor);
        if (config.entry) entries.push(config.entry);
        violations ||= config.refused;
        configLine = config.line;
      } else if (opts.approveConfig !== undefined) {
        throw new UsageError('--approve-config approves the Kamal config of the deploy: run record with the config (-c/-d), not with image references or --approve-move alone');
      }
      if (entries.length) await ledger.append(entries);
      // The head is signed after every record when a key is at hand, also when nothing was written
      // (a ledger merged or checkpointed by hand gets its signature here).
      await signAfterWrite(ledger, signer, io);
      const errors = results.filter((r) => r.error && !r.absent);
      const exitCode = combineExitCodes([...errors.map((r) => r.error!.exitCode), violations ? 1 : 0]);
      if (opts.format === 'json') {
        io.out(JSON.stringify(recordReport(ledger.location, rows, entries.length, errors, exitCode), null, 2) + '\n');
      } else io.out(renderText(rows, errors, entries.length, ledger.location, configLine));
      return exitCode;
    } finally {
      await client.close();
    }
  } finally {
    await ledger.close();
  }
}

function sameTag(ref: string, tag: TagRef): boolean {
  const t = unpinnedTagRef(ref);
  return t !== undefined && sameTagRef(t, tag);
}

async function decide(ledger: Ledger, results: TargetResult[], moves: MoveRequest[], actor: string | undefined): Promise<{ rows: RecordRow[]; entries: NewEntry[]; violations: boolean }> {
  const rows: RecordRow[] = [];
  const entries: NewEntry[] = [];
  let violations = false;
  const meta = { source: 'record' as const, ...(actor ? { actor } : {}) };
  const seen = new Set<string>();
  for (const r of results) {
    const tag = ledgerTag(r);
    if (!tag || !r.image) continue;
    const ref = formatTagRef(tag);
    if (seen.has(ref)) continue;
    seen.add(ref);
    const role = r.target.role;
    const observed = observation(r.image);
    const t = await readTag(ledger, tag);
    const { classification: c, entry: observedEntry } = observe(t, observed, meta);
    const move = moves.find((m) => formatTagRef(m.tag) === ref);
    if (move) {
      if (observed.digest !== move.digest) {
        violations = true;
        rows.push({
          ref,
          role,
          digest: observed.digest,
          change: 'not approved',
          ...(c.previous ? { approved: c.previous } : {}),
          message: `--approve-move named ${move.digest}, but ${ref} now points to ${observed.digest}: the tag moved again, nothing approved`,
        });
        continue;
      }
      if (c.kind === 'same' || c.kind === 'restored') {
        rows.push({ ref, role, digest: observed.digest, change: 'unchanged', approved: c.previous!, message: `${ref} already points to its approved digest; nothing to approve` });
        continue;
      }
      const entry: NewEntry = { ...tag, digest: observed.digest, event: 'approved', ...meta };
      if (observed.platformDigests) entry.platformDigests = observed.platformDigests;
      entries.push(entry);
      rows.push({
        ref,
        role,
        digest: observed.digest,
        change: c.kind === 'unrecorded' ? 'approved' : 'approved move',
        ...(c.previous ? { message: `was ${c.previous}; approved by ${actor ?? 'an unnamed actor'}` } : {}),
      });
      continue;
    }
    switch (c.kind) {
      case 'unrecorded': {
        if (observedEntry) entries.push(observedEntry);
        // A forgotten tag recorded again starts afresh: say so.
        rows.push({ ref, role, digest: observed.digest, change: 'approved', ...(t.state.forgotten ? { message: 'tracked again after `ledger forget`' } : {}) });
        break;
      }
      case 'same':
      case 'restored':
        rows.push({ ref, role, digest: observed.digest, change: 'unchanged', approved: c.previous! });
        break;
      default: {
        violations = true;
        const f = ledgerFinding(r.target, ref, observed.digest, c, { requireRecorded: false });
        rows.push({ ref, role, digest: observed.digest, change: 'refused', approved: c.previous!, message: `${f?.rule ?? 'tag.overwritten'}: ${f?.message ?? ''}` });
      }
    }
  }
  for (const m of moves) {
    if (!seen.has(formatTagRef(m.tag)) && !results.some((r) => r.error && sameTag(r.target.ref, m.tag))) {
      violations = true;
      rows.push({ ref: formatTagRef(m.tag), role: 'app', digest: null, change: 'not approved', message: `--approve-move ${m.arg}: the tag could not be resolved` });
    }
  }
  return { rows, entries, violations };
}

function renderText(rows: RecordRow[], errors: TargetResult[], written: number, location: string, configLine: string): string {
  let out =
    table(
      ['IMAGE', 'ROLE', 'DIGEST', 'LEDGER'],
      rows.map((r) => [r.ref, r.role, r.digest ?? '-', r.change]),
    ) + '\n';
  for (const r of rows) {
    if (r.change === 'refused') {
      out += `error: ${r.message}\n` + `  not approved. If this image is legitimate, approve it by name: kamal-gate record --approve-move ${r.ref}@${r.digest}\n`;
    } else if (r.message) out += `${r.change === 'not approved' ? 'error' : 'note'}: ${r.ref}: ${r.message}\n`;
  }
  for (const r of errors) out += `error: ${r.target.ref}: ${r.error!.message}\n`;
  out += configLine;
  const approved = rows.filter((r) => r.change === 'approved' || r.change === 'approved move');
  if (approved.length) out += `approved: ${approved.map((r) => `${r.ref} (${r.role}${r.change === 'approved move' ? ', move' : ', first use'})`).join(', ')}\n`;
  out += `${written} ledger entr${written === 1 ? 'y' : 'ies'} written to ${location}\n`;
  return out;
}
