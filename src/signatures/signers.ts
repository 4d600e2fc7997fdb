/** The signers a requirement lists: cosign public keys (PEM) and keyless identities. */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { FILE_LIMITS, readUserText } from '../user-file.js';
import type { KeyFile, KeylessIdentity } from '../policy/types.js';
import { describeIdentity } from './identity.js';

export type SignerSpec = { kind: 'key'; id: string; label: string; key: KeyObject } | { kind: 'keyless'; id: string; label: string; identity: KeylessIdentity };

const KEY_TYPES = new Set(['ec', 'ed25519', 'rsa', 'rsa-pss']);

/** A cosign public key file: ECDSA P-256/P-384, Ed25519 or RSA, PEM (SPKI or PKCS#1). */
export async function loadPublicKey(file: KeyFile): Promise<KeyObject> {
  let text: string;
  if (file.pem !== undefined) text = file.pem;
  else
    try {
      text = await readUserText(file.resolved, { limit: FILE_LIMITS.key, what: 'a public key file', refuse: (message) => new ConfigError(message, file.path) });
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (code ?? String(e));
      throw new ConfigError(`cannot read the public key (${why}, looked for ${file.resolved}); give the path of a cosign public key (cosign.pub)`, file.path);
    }
  // node:crypto derives a public key from a private one without a word: refuse it, so a private key
  // never ends up copied next to a policy or into CI settings believing it is the public half.
  const priv = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----/.exec(text);
  if (priv) {
    const how = /ENCRYPTED (COSIGN|SIGSTORE) PRIVATE KEY/.test(priv[1]!) ? `cosign public-key --key ${file.path} > cosign.pub` : `openssl pkey -in ${file.path} -pubout > cosign.pub`;
    throw new ConfigError(`this is a private key (PEM "${priv[1]}"), not a public key: give the public key instead (${how}), and keep the private key out of the repository`, file.path);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch {
    throw new ConfigError('not a PEM public key (cosign.pub)', file.path);
  }
  if (!KEY_TYPES.has(key.asymmetricKeyType ?? '')) throw new ConfigError(`unsupported key type ${key.asymmetricKeyType}`, file.path);
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'ec' && curve !== 'prime256v1' && curve !== 'secp384r1') {
    throw new ConfigError(`unsupported EC curve ${curve}; cosign keys are P-256 or P-384`, file.path);
  }
  return key;
}

export async function signerSpecs(keys: KeyFile[], keyless: KeylessIdentity[]): Promise<SignerSpec[]> {
  const out: SignerSpec[] = [];
  for (const k of keys) out.push({ kind: 'key', id: `key:${k.resolved}`, label: `key ${k.path}`, key: await loadPublicKey(k) });
  keyless.forEach((identity, i) => out.push({ kind: 'keyless', id: `keyless:${i}`, label: describeIdentity(identity), identity }));
  return out;
}
