/** Signing the ledger's head: the options every writing command shares, and `kamal-gate ledger checkpoint`. */
import { UsageError } from '../errors.js';
import type { CheckpointSigner } from '../ledger/checkpoint-format.js';
import type { Ledger } from '../ledger/types.js';
import { ledgerCheckpointReport } from '../report/ledger-models.js';
import { openLedgerFor, type LedgerFlags } from './ledger-options.js';
import type { Io } from './io.js';

export interface CheckpointFlags {
  /** `--checkpoint-key FILE`: PKCS#8 PEM, or cosign's encrypted format with COSIGN_PASSWORD. */
  checkpointKey?: string;
  /** `--checkpoint-keyless`: Sigstore keyless signing (GitHub Actions OIDC or SIGSTORE_ID_TOKEN). */
  checkpointKeyless?: boolean;
}

/**
 * The signer the flags and environment name, loaded before any work so a bad key or passphrase
 * fails first; undefined when nothing names one and `required` is false.
 */
export async function checkpointSigner(flags: CheckpointFlags, env: NodeJS.ProcessEnv, required: boolean): Promise<CheckpointSigner | undefined> {
  const { loadCheckpointSigner, CHECKPOINT_KEY_ENV } = await import('../ledger/checkpoint-sign.js');
  const named = flags.checkpointKey !== undefined || flags.checkpointKeyless === true || !!env[CHECKPOINT_KEY_ENV]?.trim();
  if (!named) {
    if (!required) return undefined;
    throw new UsageError(`no key to sign the checkpoint with: give --checkpoint-key FILE, set ${CHECKPOINT_KEY_ENV}, or use --checkpoint-keyless in CI`);
  }
  return loadCheckpointSigner({ env, ...(flags.checkpointKey !== undefined ? { keyFile: flags.checkpointKey } : {}), ...(flags.checkpointKeyless ? { keyless: true } : {}) });
}

/** Signs the head after a write and says so (to stderr, so JSON on stdout stays one document). */
export async function signAfterWrite(ledger: Ledger, signer: CheckpointSigner | undefined, io: Io): Promise<void> {
  if (!signer) return;
  const { signHead } = await import('../ledger/head.js');
  const cp = await signHead(ledger, signer);
  if (cp) io.err(`checkpoint: ledger head seq ${cp.seq} signed by ${signer.describe}\n`);
}

/** `kamal-gate ledger checkpoint`: sign the ledger's current head. */
export async function ledgerCheckpointCommand(opts: LedgerFlags & CheckpointFlags & { format: 'text' | 'json' }, io: Io): Promise<number> {
  const signer = (await checkpointSigner(opts, io.env, true))!;
  const ledger = (await openLedgerFor(opts, io, undefined, { mustExist: true }))!;
  try {
    const { signHead } = await import('../ledger/head.js');
    const cp = await signHead(ledger, signer);
    if (!cp) throw new UsageError(`${ledger.location} has no entries: nothing to sign`);
    if (opts.format === 'json') io.out(JSON.stringify(ledgerCheckpointReport(ledger.location, cp, signer.describe), null, 2) + '\n');
    else io.out(`${ledger.location}: head seq ${cp.seq} (${cp.hash}) signed by ${signer.describe} at ${cp.time}\n`);
    return 0;
  } finally {
    await ledger.close();
  }
}
