/**
 * The Rekor entry must name the key that signed (cosign `comparePublicKey`). @sigstore/verify
 * checks the entry's signature and digest against the bundle, not its key or certificate, so an
 * entry logged for another signer over the same bytes would otherwise pass.
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { TransparencyLogEntry } from '@sigstore/bundle';
import { pemBlocks } from './pem.js';

/** A value inside parsed JSON, or undefined. */
function dig(v: unknown, ...path: string[]): unknown {
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Keys named in a Rekor entry body (hashedrekord/rekord/dsse/intoto 0.0.1, intoto 0.0.2, and the v2 0.0.2 kinds). */
function bodyKeys(body: unknown): KeyObject[] {
  const spec = dig(body, 'spec');
  const pemB64 = [
    dig(spec, 'signature', 'publicKey', 'content'), // hashedrekord 0.0.1, rekord 0.0.1
    dig(spec, 'publicKey'), // intoto 0.0.1 (the only one of these kinds that keeps it at the top of spec)
    ...list(dig(spec, 'signatures')).map((s) => dig(s, 'verifier')), // dsse 0.0.1
    ...list(dig(spec, 'content', 'envelope', 'signatures')).map((s) => dig(s, 'publicKey')), // intoto 0.0.2
  ];
  const pems = pemB64
    .map(str)
    .filter((s): s is string => !!s)
    .map((b) => Buffer.from(b, 'base64').toString('utf8'));
  const verifiers = [dig(spec, 'hashedRekordV002', 'signature', 'verifier'), ...list(dig(spec, 'dsseV002', 'signatures')).map((s) => dig(s, 'verifier'))];
  const ders = verifiers
    .map((v) => str(dig(v, 'x509Certificate', 'rawBytes')) ?? str(dig(v, 'publicKey', 'rawBytes')))
    .filter((s): s is string => !!s)
    .map((b) => Buffer.from(b, 'base64'));
  const keys: KeyObject[] = [];
  for (const pem of pems) {
    for (const block of pemBlocks(pem)) {
      try {
        keys.push(block.label === 'CERTIFICATE' ? new X509Certificate(block.der).publicKey : createPublicKey(pem));
      } catch {
        // not a key: it matches nothing
      }
    }
  }
  for (const der of ders) {
    try {
      keys.push(new X509Certificate(der).publicKey);
    } catch {
      try {
        keys.push(createPublicKey({ key: der, format: 'der', type: 'spki' }));
      } catch {
        // not a key
      }
    }
  }
  return keys;
}

const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' });

/** Undefined when every entry names `signer`; otherwise why not. */
export function tlogSignerMismatch(entries: TransparencyLogEntry[], signer: KeyObject): string | undefined {
  const want = spki(signer);
  for (const e of entries) {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(e.canonicalizedBody).toString('utf8')) as unknown;
    } catch {
      return 'the transparency log entry body is not JSON';
    }
    const keys = bodyKeys(body);
    if (!keys.length) return `the transparency log entry (${String(dig(body, 'kind'))} ${String(dig(body, 'apiVersion'))}) names no key or certificate`;
    if (!keys.every((k) => spki(k).equals(want))) return 'the transparency log entry was made for another key or certificate than the one that signed';
  }
  return undefined;
}
