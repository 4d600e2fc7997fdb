/**
 * Private keys that sign ledger checkpoints, and the signature algorithms they imply.
 *
 * Accepted PEM (one private key per text):
 *   PRIVATE KEY                        PKCS#8, unencrypted (`openssl genpkey`)
 *   EC PRIVATE KEY / RSA PRIVATE KEY   SEC1 / PKCS#1, unencrypted (older `openssl genrsa`/`ecparam`)
 *   ENCRYPTED SIGSTORE PRIVATE KEY     cosign >= 2.0.1 (`cosign generate-key-pair`), passphrase from COSIGN_PASSWORD
 *   ENCRYPTED COSIGN PRIVATE KEY       older cosign, skopeo; same body
 * cosign's format (go-securesystemslib `encrypted`): the PEM body is the JSON
 *   {kdf: {name: "scrypt", params: {N, r, p}, salt}, cipher: {name: "nacl/secretbox", nonce}, ciphertext}
 * with key = scrypt(passphrase, salt, 32) and plaintext = the PKCS#8 DER private key; byte strings
 * are standard base64 (shared/notes/sigstore.md §5).
 *
 * Key types and the algorithm each signs with (what cosign does with the same key):
 *   ECDSA P-256 → ecdsa-p256-sha256, ECDSA P-384 → ecdsa-p384-sha384 (DER signatures),
 *   Ed25519 → ed25519 (pure, over the payload), RSA 2048–8192 bits → rsa-pkcs1v15-sha256.
 *
 * Errors are UsageError (exit 2) and never carry the passphrase or any key material.
 */
import { constants, createHash, createPrivateKey, createPublicKey, scrypt, sign, verify, type KeyObject } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { pemBlocks } from '../signatures/pem.js';

export const SIGNING_ALGORITHMS = ['ecdsa-p256-sha256', 'ecdsa-p384-sha384', 'ed25519', 'rsa-pkcs1v15-sha256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** A key file or PEM secret larger than this is not a key. */
export const KEY_TEXT_MAX_BYTES = 64 * 1024;

const COSIGN_LABELS = new Set(['ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY']);
const PUBLIC_LABELS = new Set(['PUBLIC KEY', 'RSA PUBLIC KEY', 'CERTIFICATE']);
const PLAIN_TYPES: Record<string, 'pkcs8' | 'sec1' | 'pkcs1'> = { 'PRIVATE KEY': 'pkcs8', 'EC PRIVATE KEY': 'sec1', 'RSA PRIVATE KEY': 'pkcs1' };

/** The algorithm a key (public or private) signs with, or undefined for a key type checkpoints do not use. */
export function algorithmFor(key: KeyObject): SigningAlgorithm | undefined {
  const d = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ec':
      return d?.namedCurve === 'prime256v1' ? 'ecdsa-p256-sha256' : d?.namedCurve === 'secp384r1' ? 'ecdsa-p384-sha384' : undefined;
    case 'ed25519':
      return 'ed25519';
    case 'rsa':
      return d?.modulusLength !== undefined && d.modulusLength >= 2048 && d.modulusLength <= 8192 ? 'rsa-pkcs1v15-sha256' : undefined;
    default:
      return undefined;
  }
}

function describeKeyType(key: KeyObject): string {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return `EC ${d?.namedCurve ?? '(unknown curve)'}`;
  if (key.asymmetricKeyType === 'rsa') return `RSA ${d?.modulusLength ?? '?'} bits`;
  return key.asymmetricKeyType ?? key.type;
}

function hashOf(alg: SigningAlgorithm): string | null {
  return alg === 'ed25519' ? null : alg === 'ecdsa-p384-sha384' ? 'sha384' : 'sha256';
}

export function signWith(alg: SigningAlgorithm, key: KeyObject, data: Buffer): Buffer {
  if (alg === 'rsa-pkcs1v15-sha256') return sign('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING });
  return sign(hashOf(alg), data, key);
}

/** True when `signature` is `key`'s signature of `data` under `alg`; never throws. */
export function verifyWith(alg: SigningAlgorithm, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    if (alg === 'rsa-pkcs1v15-sha256') return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
    return verify(hashOf(alg), data, key, signature);
  } catch {
    return false;
  }
}

/** "sha256:" + hex of the SPKI DER of the key's public half. */
export function keyIdOf(key: KeyObject): string {
  const spki = publicHalf(key).export({ format: 'der', type: 'spki' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** The public key of a private or public KeyObject (createPublicKey refuses a public KeyObject). */
export function publicHalf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

export function publicKeyPem(key: KeyObject): string {
  return publicHalf(key).export({ format: 'pem', type: 'spki' }).toString();
}

export interface LoadedPrivateKey {
  key: KeyObject;
  algorithm: SigningAlgorithm;
  keyId: string;
}

/**
 * The signing key in `text` (a PEM). `from` names where it came from in messages (`--checkpoint-key
 * ./ckpt.key`, `KAMAL_GATE_CHECKPOINT_KEY`); `env` supplies COSIGN_PASSWORD for a cosign key.
 */
export async function readPrivateKey(text: string, from: string, env: NodeJS.ProcessEnv): Promise<LoadedPrivateKey> {
  if (Buffer.byteLength(text, 'utf8') > KEY_TEXT_MAX_BYTES) throw new UsageError(`${from}: larger than ${KEY_TEXT_MAX_BYTES / 1024} KiB, not a private key`);
  const blocks = pemBlocks(text);
  const privates = blocks.filter((b) => b.label.endsWith('PRIVATE KEY'));
  if (!privates.length) {
    const pub = blocks.find((b) => PUBLIC_LABELS.has(b.label));
    if (pub) {
      throw new UsageError(
        `${from}: this is a public key (PEM "${pub.label}"), not a private key: give the private key that signs checkpoints ` +
          '(a PKCS#8 PEM, or cosign.key with COSIGN_PASSWORD); the public key belongs in the trusted checkpoint keys',
      );
    }
    throw new UsageError(`${from}: no PEM private key found (expected "-----BEGIN PRIVATE KEY-----" or a cosign "ENCRYPTED SIGSTORE PRIVATE KEY")`);
  }
  if (privates.length > 1) throw new UsageError(`${from}: holds ${privates.length} private keys; give exactly one`);
  const block = privates[0]!;
  let key: KeyObject;
  if (COSIGN_LABELS.has(block.label)) {
    key = await decryptCosignKey(block.der, from, env);
  } else if (/Proc-Type:\s*4,ENCRYPTED/.test(text)) {
    throw new UsageError(
      `${from}: the key is encrypted in OpenSSL's legacy PEM format, which is not supported: convert it to PKCS#8 (openssl pkey -in KEY -out plain.pem) or import it into cosign's format (cosign import-key-pair --key KEY) and set COSIGN_PASSWORD`,
    );
  } else if (block.label === 'ENCRYPTED PRIVATE KEY') {
    throw new UsageError(
      `${from}: encrypted PKCS#8 keys are not supported: import the key into cosign's format (cosign import-key-pair --key KEY) and set COSIGN_PASSWORD, or give it unencrypted through a CI secret`,
    );
  } else {
    const type = PLAIN_TYPES[block.label];
    if (!type) throw new UsageError(`${from}: unsupported PEM "${block.label}"; give a PKCS#8 private key ("BEGIN PRIVATE KEY") or a cosign key`);
    try {
      key = createPrivateKey({ key: block.der, format: 'der', type });
    } catch {
      throw new UsageError(`${from}: the PEM "${block.label}" block does not hold a readable private key`);
    } finally {
      block.der.fill(0);
    }
  }
  const algorithm = algorithmFor(key);
  if (!algorithm) {
    throw new UsageError(`${from}: unsupported key type ${describeKeyType(key)}; checkpoints are signed with ECDSA P-256 or P-384, Ed25519, or RSA of 2048 to 8192 bits`);
  }
  return { key, algorithm, keyId: keyIdOf(key) };
}

interface Envelope {
  salt: Buffer;
  params: { N: number; r: number; p: number };
  nonce: Buffer;
  ciphertext: Buffer;
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

function field(o: unknown, ...path: string[]): unknown {
  for (const k of path) o = typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>)[k] : undefined;
  return o;
}

function bytes(v: unknown): Buffer | undefined {
  return typeof v === 'string' && B64.test(v) ? Buffer.from(v, 'base64') : undefined;
}

/** The envelope's fields, or why it is not one. Caps scrypt's cost so a hostile file cannot exhaust memory. */
function readEnvelope(body: Buffer): Envelope | string {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return 'its body is not the JSON cosign writes';
  }
  const kdf = field(json, 'kdf', 'name');
  const cipher = field(json, 'cipher', 'name');
  if (kdf !== 'scrypt') return `unsupported key derivation ${JSON.stringify(kdf)} (cosign uses scrypt)`;
  if (cipher !== 'nacl/secretbox') return `unsupported cipher ${JSON.stringify(cipher)} (cosign uses nacl/secretbox)`;
  const [N, r, p] = [field(json, 'kdf', 'params', 'N'), field(json, 'kdf', 'params', 'r'), field(json, 'kdf', 'params', 'p')];
  if (!isInt(N, 2, 1 << 20) || (N & (N - 1)) !== 0 || !isInt(r, 1, 32) || !isInt(p, 1, 16) || 128 * N * r > 512 * 1024 * 1024) {
    return 'its scrypt parameters are missing or out of range (cosign writes N=32768, r=8, p=1)';
  }
  const salt = bytes(field(json, 'kdf', 'salt'));
  const nonce = bytes(field(json, 'cipher', 'nonce'));
  const ciphertext = bytes(field(json, 'ciphertext'));
  if (!salt?.length || nonce?.length !== 24 || !ciphertext || ciphertext.length < 17) return 'its salt, nonce or ciphertext is missing or malformed';
  return { salt, params: { N, r, p }, nonce, ciphertext };
}

function deriveKey(passphrase: string, e: Envelope): Promise<Buffer> {
  const { N, r, p } = e.params;
  return new Promise((resolve, reject) => scrypt(Buffer.from(passphrase, 'utf8'), e.salt, 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))));
}

async function decryptCosignKey(body: Buffer, from: string, env: NodeJS.ProcessEnv): Promise<KeyObject> {
  const envelope = readEnvelope(body);
  if (typeof envelope === 'string') throw new UsageError(`${from}: not a usable cosign private key: ${envelope}`);
  const passphrase = env.COSIGN_PASSWORD;
  if (passphrase === undefined) {
    throw new UsageError(`${from}: the key is encrypted (cosign format): set COSIGN_PASSWORD to its passphrase (an empty value for a key made without one)`);
  }
  registerSecret(passphrase);
  let secretKey: Buffer;
  try {
    secretKey = await deriveKey(passphrase, envelope);
  } catch {
    throw new UsageError(`${from}: could not derive the decryption key (scrypt failed: out of memory?)`);
  }
  let der: Uint8Array;
  try {
    der = xsalsa20poly1305(secretKey, envelope.nonce).decrypt(envelope.ciphertext);
  } catch {
    throw new UsageError(`${from}: cannot decrypt the cosign private key: wrong passphrase in COSIGN_PASSWORD (or the file is damaged)`);
  } finally {
    secretKey.fill(0);
  }
  const plain = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  try {
    // cosign writes PKCS#8; some old tools put a SEC1 EC key inside.
    for (const type of ['pkcs8', 'sec1'] as const) {
      try {
        return createPrivateKey({ key: plain, format: 'der', type });
      } catch {
        // try the next encoding
      }
    }
    throw new UsageError(`${from}: decrypted, but the content is not a private key (expected PKCS#8)`);
  } finally {
    plain.fill(0);
  }
}
