/**
 * The signature memo: for one image (the digests it deploys) under one set of signature and
 * attestation requirements, the places where the last run found what satisfied them (a legacy
 * `.sig` tag and the manifest it pointed to, a referrers list, the index's BuildKit attestations),
 * and how many tags the signature repository had when it was last listed. check.ts re-checks
 * those places first, each asked of the registry again; whatever they no longer satisfy is looked
 * for everywhere, as on a first run.
 *
 * A note is a hint, never an answer: it is kept in the content cache's `memo/` folder (not
 * content-addressed, see registry/cache.ts) and it can only say where to look first. Every
 * signature is still read from the registry's current answer and verified from its content; a
 * place the note names that is not one the full discovery would look in (another digest, a kind
 * not wanted) is ignored (discover.ts), and a note that does not parse is no note.
 *
 * Its name is a hash of everything the verdict depends on besides the registry's answers: the
 * image's repository and digests, where signatures are kept, and the requirements with each public
 * key by its content (a key file edited in place is another policy).
 */
import { createHash } from 'node:crypto';
import type { AttestationsRequirement, KeyFile, SignaturesRequirement } from '../policy/types.js';
import type { ContentCache } from '../registry/cache.js';
import { validateDigest } from '../registry/reference.js';
import type { DiscoverInput } from './discover.js';
import { loadPublicKey } from './signers.js';
import type { Place } from './types.js';

export interface Memo {
  places: Place[];
  /** How many tags the signature repository had when it was last listed. */
  tags?: number;
}

/** Places a note keeps at most. */
const MAX_PLACES = 32;
const KINDS = new Set<Place['kind']>(['sig', 'att', 'referrers', 'buildkit']);

const sha256 = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');

function keyFiles(sig: SignaturesRequirement[], att: AttestationsRequirement[]): KeyFile[] {
  return [...sig.flatMap((r) => r.keys), ...att.flatMap((r) => r.require.flatMap((a) => (a.signedBy?.key ? [a.signedBy.key] : [])))];
}

const isKeyFile = (v: unknown): v is KeyFile => typeof v === 'object' && v !== null && typeof (v as KeyFile).resolved === 'string' && typeof (v as KeyFile).path === 'string';
const keyId = (k: KeyFile) => `${k.resolved}\0${k.pem ?? ''}`;

/** The note's name for an image under these requirements (loads the public keys: a bad key file is the ConfigError it always was). */
export async function memoName(input: DiscoverInput, sig: SignaturesRequirement[], att: AttestationsRequirement[]): Promise<string> {
  const keys = new Map<string, string>();
  for (const k of keyFiles(sig, att)) {
    if (!keys.has(keyId(k))) keys.set(keyId(k), sha256((await loadPublicKey(k)).export({ type: 'spki', format: 'der' })));
  }
  const fingerprint = JSON.stringify(
    {
      v: 1,
      image: `${input.registry}/${input.repository}`,
      signatureRepository: input.signatureRepository ?? null,
      digests: input.digests,
      index: Boolean(input.index),
      want: input.want,
      sig,
      att,
    },
    (_k, v: unknown) => (isKeyFile(v) ? `key sha256:${keys.get(keyId(v))}` : v),
  );
  return sha256(fingerprint);
}

const isDigest = (v: unknown): v is string => {
  if (typeof v !== 'string') return false;
  try {
    validateDigest(v);
    return true;
  } catch {
    return false;
  }
};

/** A note's content, or undefined when it is not a note this code wrote (any doubt: no note). */
function parseMemo(bytes: Buffer): Memo | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const { v, places, tags } = doc as { v?: unknown; places?: unknown; tags?: unknown };
  if (v !== 1 || !Array.isArray(places) || places.length > MAX_PLACES) return undefined;
  if (tags !== undefined && !(Number.isSafeInteger(tags) && (tags as number) >= 0)) return undefined;
  const out: Place[] = [];
  for (const p of places as unknown[]) {
    if (typeof p !== 'object' || p === null) return undefined;
    const { kind, at, manifest } = p as { kind?: unknown; at?: unknown; manifest?: unknown };
    if (!KINDS.has(kind as Place['kind']) || !isDigest(at) || (manifest !== undefined && !isDigest(manifest))) return undefined;
    out.push({ kind: kind as Place['kind'], at, ...(manifest !== undefined ? { manifest } : {}) });
  }
  return { places: out, ...(tags !== undefined ? { tags: tags as number } : {}) };
}

export async function readMemo(cache: ContentCache, name: string): Promise<Memo | undefined> {
  const bytes = await cache.getNote(name);
  return bytes ? parseMemo(bytes) : undefined;
}

export async function writeMemo(cache: ContentCache, name: string, memo: Memo): Promise<void> {
  const places = [...new Map(memo.places.map((p) => [`${p.kind}|${p.at}`, p])).values()].slice(0, MAX_PLACES);
  await cache.putNote(name, Buffer.from(JSON.stringify({ v: 1, places, ...(memo.tags !== undefined ? { tags: memo.tags } : {}) })));
}
