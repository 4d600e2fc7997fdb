/**
 * cosign's encrypted private key files, written and read the way cosign does (go-securesystemslib
 * `encrypted`): PEM `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign >= 2.0.1) or `ENCRYPTED COSIGN PRIVATE
 * KEY` (older cosign, skopeo 1.9), whose body is the JSON
 *   {kdf: {name: "scrypt", params: {N: 32768, r: 8, p: 1}, salt}, cipher: {name: "nacl/secretbox", nonce}, ciphertext}
 * with key = scrypt(passphrase, salt, 32) and plaintext = the PKCS#8 DER private key. Byte strings
 * are standard base64. node:crypto has scrypt but no XSalsa20-Poly1305: that comes from @noble/ciphers.
 *
 *   const pem = encryptCosignKey(privateKey, 'passphrase');
 *   const key = decryptCosignKey(pem, 'passphrase');       // a KeyObject to sign with
 */
import { createPrivateKey, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';

const SIGSTORE_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';

/** cosign's scrypt parameters (go-securesystemslib's defaults). */
const SCRYPT = { N: 32768, r: 8, p: 1 };

interface Envelope {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

function kdf(passphrase: string, salt: Buffer, params: { N: number; r: number; p: number }): Uint8Array {
  // scrypt needs 128·N·r bytes: 32 MiB at cosign's parameters, Node's default cap.
  return scryptSync(Buffer.from(passphrase, 'utf8'), salt, 32, { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r });
}

function pem(label: string, body: Buffer): string {
  const b64 = body.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/** The private key as cosign writes it (`cosign generate-key-pair`, `import-key-pair`). */
export function encryptCosignKey(key: KeyObject, passphrase: string, label: string = SIGSTORE_LABEL): string {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const ciphertext = xsalsa20poly1305(kdf(passphrase, salt, SCRYPT), nonce).encrypt(der);
  const envelope: Envelope = {
    kdf: { name: 'scrypt', params: SCRYPT, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  };
  return pem(label, Buffer.from(JSON.stringify(envelope)));
}

/** Reads a cosign encrypted private key; throws on a wrong passphrase (the secretbox tag does not verify). */
export function decryptCosignKey(text: string, passphrase: string): KeyObject {
  const m = /-----BEGIN (ENCRYPTED (?:SIGSTORE|COSIGN) PRIVATE KEY)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) throw new Error('not a cosign encrypted private key (no ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY block)');
  const env = JSON.parse(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64').toString('utf8')) as Envelope;
  if (env.kdf?.name !== 'scrypt') throw new Error(`unsupported kdf ${env.kdf?.name}`);
  if (env.cipher?.name !== 'nacl/secretbox') throw new Error(`unsupported cipher ${env.cipher?.name}`);
  const key = kdf(passphrase, Buffer.from(env.kdf.salt, 'base64'), env.kdf.params);
  const der = xsalsa20poly1305(key, Buffer.from(env.cipher.nonce, 'base64')).decrypt(Buffer.from(env.ciphertext, 'base64'));
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
}
