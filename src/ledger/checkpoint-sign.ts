/**
 * Signing and verifying ledger checkpoints (issue 12). The data and the signed bytes are in
 * checkpoint-format.ts, key files in cosign-key.ts, keyless Sigstore in checkpoint-sigstore.ts;
 * this module is the entry point and re-exports what callers need.
 *
 *   const signer = await loadCheckpointSigner({ keyFile, env: process.env, keyless });
 *   const cp = await signer.sign({ schema: CHECKPOINT_SCHEMA, ledger, seq, hash, time });
 *   await writeFile(path, formatSignedCheckpoint(cp));
 *   …
 *   const r = await verifyCheckpointSignature(parseSignedCheckpoint(text, path), { keys, identities });
 *   if (!r.ok) … r.reason
 *
 * Where the signing key comes from, first match wins:
 *   1. `keyFile` (--checkpoint-key FILE): a PEM file.
 *   2. env KAMAL_GATE_CHECKPOINT_KEY: the PEM text itself when it contains "-----BEGIN" (a CI secret;
 *      literal "\n" sequences in a one-line secret are read as line breaks), otherwise a path to a PEM file.
 *   3. `keyless: true`: Sigstore keyless (checkpoint-sigstore.ts).
 * A cosign-encrypted key takes its passphrase from COSIGN_PASSWORD.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { LedgerError, UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { readUserFile } from '../user-file.js';
import {
  bodyProblem,
  checkpointPayload,
  checkpointProblem,
  type CheckpointBody,
  type CheckpointSigner,
  type CheckpointTrust,
  type CheckpointVerification,
  type SignedCheckpoint,
} from './checkpoint-format.js';
// checkpoint-sigstore.js (Sigstore's verifier, undici) is imported only for a keyless checkpoint: a
// key checkpoint, the common case, is verified without loading it (~150 ms of module loading).
import { algorithmFor, KEY_TEXT_MAX_BYTES, keyIdOf, publicHalf, publicKeyPem, readPrivateKey, signWith, verifyWith, type LoadedPrivateKey } from './cosign-key.js';

export {
  CHECKPOINT_SCHEMA,
  checkpointPayload,
  formatSignedCheckpoint,
  parseSignedCheckpoint,
  type CheckpointBody,
  type CheckpointIdentity,
  type SignedCheckpoint,
} from './checkpoint-format.js';

export const CHECKPOINT_KEY_ENV = 'KAMAL_GATE_CHECKPOINT_KEY';

export interface CheckpointSignerOptions {
  /** --checkpoint-key FILE */
  keyFile?: string;
  /** KAMAL_GATE_CHECKPOINT_KEY, COSIGN_PASSWORD, SIGSTORE_ID_TOKEN, ACTIONS_ID_TOKEN_REQUEST_*, KAMAL_GATE_FULCIO_URL/REKOR_URL. */
  env: NodeJS.ProcessEnv;
  keyless?: boolean;
  fulcioUrl?: string;
  rekorUrl?: string;
}

async function readKeyFile(path: string, from: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readUserFile(path, { limit: KEY_TEXT_MAX_BYTES, what: 'a checkpoint signing key', refuse: (message) => new UsageError(`${from}: ${message}`) });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (code ?? String(e));
    throw new UsageError(`${from}: cannot read the checkpoint signing key (${why})`);
  }
  return buf.toString('utf8');
}

function keySigner(loaded: LoadedPrivateKey, from: string): CheckpointSigner {
  const publicKey = publicKeyPem(loaded.key);
  return {
    describe: `key ${loaded.keyId} (${loaded.algorithm}) from ${from}`,
    async sign(body: CheckpointBody): Promise<SignedCheckpoint> {
      const { schema, ledger, seq, hash, time } = body;
      const value = signWith(loaded.algorithm, loaded.key, checkpointPayload(body)).toString('base64');
      return { schema, ledger, seq, hash, time, signature: { kind: 'key', algorithm: loaded.algorithm, keyId: loaded.keyId, publicKey, value } };
    },
  };
}

/** Refuses to sign what could not be verified later (a body the reader would reject). */
function checked(signer: CheckpointSigner): CheckpointSigner {
  return {
    describe: signer.describe,
    sign(body: CheckpointBody) {
      const problem = bodyProblem(body);
      if (problem) return Promise.reject(new LedgerError(`cannot sign a malformed ledger checkpoint: ${problem}`));
      return signer.sign(body);
    },
  };
}

/** The signer the options and environment select. UsageError (exit 2) when none is configured or the key cannot be used. */
export async function loadCheckpointSigner(opts: CheckpointSignerOptions): Promise<CheckpointSigner> {
  if (opts.keyFile !== undefined && opts.keyless) throw new UsageError('give either --checkpoint-key or keyless signing, not both');
  if (opts.keyFile !== undefined) {
    const from = `--checkpoint-key ${opts.keyFile}`;
    return checked(keySigner(await readPrivateKey(await readKeyFile(opts.keyFile, from), from, opts.env), from));
  }
  const fromEnv = opts.env[CHECKPOINT_KEY_ENV]?.trim();
  if (fromEnv) {
    if (fromEnv.includes('-----BEGIN')) {
      registerSecret(fromEnv);
      const pem = fromEnv.includes('\n') ? fromEnv : fromEnv.replace(/\\n/g, '\n');
      return checked(keySigner(await readPrivateKey(pem, CHECKPOINT_KEY_ENV, opts.env), CHECKPOINT_KEY_ENV));
    }
    const from = `${CHECKPOINT_KEY_ENV} (file ${fromEnv})`;
    return checked(keySigner(await readPrivateKey(await readKeyFile(fromEnv, from), from, opts.env), from));
  }
  if (opts.keyless) {
    const { keylessSigner } = await import('./checkpoint-sigstore.js');
    return checked(keylessSigner({ env: opts.env, fulcioUrl: opts.fulcioUrl, rekorUrl: opts.rekorUrl }));
  }
  throw new UsageError(
    `no checkpoint signing key: give --checkpoint-key FILE, set ${CHECKPOINT_KEY_ENV} (the PEM private key itself, e.g. from a CI secret, or its path), ` + 'or sign keyless with Sigstore',
  );
}

function publicKeyOf(k: KeyObject): KeyObject | undefined {
  try {
    return publicHalf(k);
  } catch {
    return undefined;
  }
}

function verifyKeySignature(cp: SignedCheckpoint, trust: CheckpointTrust | undefined): CheckpointVerification {
  const sig = cp.signature;
  if (sig.kind !== 'key') return { ok: false, reason: 'not a key signature' };
  const fail = (reason: string): CheckpointVerification => ({ ok: false, reason });
  let embedded: KeyObject;
  try {
    embedded = createPublicKey(sig.publicKey);
  } catch {
    return fail("the signature's publicKey is not a readable PEM public key");
  }
  const alg = algorithmFor(embedded);
  if (alg !== sig.algorithm) return fail(`the signature says ${sig.algorithm}, but its public key is for ${alg ?? 'no supported algorithm'}`);
  if (keyIdOf(embedded) !== sig.keyId) return fail(`the signature's keyId ${sig.keyId} is not the id of its embedded public key (${keyIdOf(embedded)})`);
  let key = embedded;
  let source: string | undefined;
  if (trust?.keys !== undefined) {
    const match = trust.keys.find((t) => {
      const pub = publicKeyOf(t.key);
      return pub !== undefined && keyIdOf(pub) === sig.keyId;
    });
    if (!match) {
      const known = trust.keys.map((t) => {
        const pub = publicKeyOf(t.key);
        return `${t.source} (${pub ? keyIdOf(pub) : 'not a public key'})`;
      });
      return fail(`signed by key ${sig.keyId}, which is not a trusted checkpoint key (trusted: ${known.join(', ') || 'none'})`);
    }
    key = publicKeyOf(match.key)!;
    source = match.source;
  } else if (trust?.identities !== undefined) {
    return fail(`the checkpoint is signed with key ${sig.keyId}, but only keyless identities are trusted: add the public key to the trusted checkpoint keys`);
  }
  if (!verifyWith(alg, key, checkpointPayload(cp), Buffer.from(sig.value, 'base64'))) {
    return fail(`the signature by key ${sig.keyId} does not verify: the checkpoint (ledger, seq, hash or time) was altered after it was signed`);
  }
  return source !== undefined
    ? { ok: true, anchored: true, signer: `key ${sig.keyId} (${source})` }
    : { ok: true, anchored: false, signer: `key ${sig.keyId} (unanchored: no trusted checkpoint key configured; this only shows the checkpoint is unchanged since that key signed it)` };
}

/**
 * Verifies a checkpoint's signature offline (see CheckpointTrust for what anchors it). Every
 * failure, malformed input included, is `{ ok: false, reason }`; it never throws.
 */
export async function verifyCheckpointSignature(cp: SignedCheckpoint, trust?: CheckpointTrust): Promise<CheckpointVerification> {
  try {
    const problem = checkpointProblem(cp);
    if (problem) return { ok: false, reason: `malformed checkpoint: ${problem}` };
    if (cp.signature.kind === 'key') return verifyKeySignature(cp, trust);
    const { verifySigstoreCheckpoint } = await import('./checkpoint-sigstore.js');
    return await verifySigstoreCheckpoint(cp, cp.signature.bundle, trust);
  } catch (e) {
    return { ok: false, reason: `the checkpoint signature could not be verified: ${e instanceof Error ? e.message : String(e)}` };
  }
}
