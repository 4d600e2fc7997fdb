/**
 * The Sigstore trusted root (Fulcio CAs, Rekor and CT log keys, TSAs) verification runs against.
 * Verification never goes to the network: it uses, in this order, the file given as
 * `trustedRoot` (private Sigstore deployments), the root `kamal-gate trust refresh` cached, or the
 * public-good root shipped in the package (dist/trusted_root.json, extracted from @sigstore/tuf's
 * seeds at build time by scripts/trusted-root.mjs).
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { EMBEDDED } from '../embedded.js';
import { ConfigError } from '../errors.js';
import { currentUid, unsafeFolder } from '../registry/cache-dir.js';
import { FILE_LIMITS, readUserText } from '../user-file.js';

export interface TrustOptions {
  /** A trusted_root.json to use instead of the public-good root (`--trusted-root FILE`). */
  trustedRoot?: string;
  /** Where `trust refresh` keeps its root (default: $XDG_CACHE_HOME/kamal-gate or ~/.cache/kamal-gate). */
  cacheDir?: string;
}

export interface LoadedRoot {
  root: TrustedRoot;
  /** What was read, for messages: a path, or `@sigstore/tuf seeds`. */
  source: string;
  /** Which of the roots: `--trusted-root`, the one `trust refresh` cached, or the one shipped. */
  kind: 'file' | 'cached' | 'shipped';
}

const PUBLIC_GOOD_MIRROR = 'https://tuf-repo-cdn.sigstore.dev';

function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kamal-gate');
}

/** dist/trusted_root.json beside the compiled module (absent when running from src/). */
const SHIPPED = fileURLToPath(new URL('../trusted_root.json', import.meta.url));
/** The same root, embedded in the single-file build and the standalone binary (src/embedded.ts). */
const BUILT_IN = 'the public-good root built into kamal-gate';

function parseRoot(text: string, where: string): TrustedRoot {
  try {
    const root = TrustedRoot.fromJSON(JSON.parse(text));
    if (!root.certificateAuthorities.length && !root.tlogs.length) throw new Error('it lists no certificate authority and no transparency log');
    return root;
  } catch (e) {
    throw new ConfigError(`not a usable Sigstore trusted root: ${e instanceof Error ? e.message : String(e)}`, where);
  }
}

/** The public-good trusted_root.json carried in @sigstore/tuf's seeds.json (what the build step extracts). */
export async function seededPublicGoodRoot(): Promise<string> {
  const require = createRequire(import.meta.url);
  const seedsPath = join(dirname(require.resolve('@sigstore/tuf')), '..', 'seeds.json');
  const seeds = JSON.parse(await readFile(seedsPath, 'utf8')) as Record<string, { targets?: Record<string, string> }>;
  const b64 = seeds[PUBLIC_GOOD_MIRROR]?.targets?.['trusted_root.json'];
  if (!b64) throw new Error(`${seedsPath} carries no trusted_root.json for ${PUBLIC_GOOD_MIRROR}`);
  return Buffer.from(b64, 'base64').toString('utf8');
}

const loaded = new Map<string, Promise<LoadedRoot>>();

/** The trusted root to verify with (read once per process and option set). */
export function loadTrustedRoot(opts: TrustOptions = {}): Promise<LoadedRoot> {
  const key = `${opts.trustedRoot ?? ''}|${opts.cacheDir ?? ''}`;
  let p = loaded.get(key);
  if (!p) {
    p = readRoot(opts);
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  return p;
}

async function readRoot(opts: TrustOptions): Promise<LoadedRoot> {
  if (opts.trustedRoot) {
    let text: string;
    try {
      text = await readRootFile(opts.trustedRoot);
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError(`cannot read the trusted root: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, opts.trustedRoot);
    }
    return { root: parseRoot(text, opts.trustedRoot), source: opts.trustedRoot, kind: 'file' };
  }
  const cached = await ownCachedRoot(opts.cacheDir ?? defaultCacheDir());
  if (cached) return { root: parseRoot(await readRootFile(cached), cached), source: cached, kind: 'cached' };
  const embedded = EMBEDDED['dist/trusted_root.json'];
  if (embedded !== undefined) return { root: parseRoot(embedded, BUILT_IN), source: BUILT_IN, kind: 'shipped' };
  if (existsSync(SHIPPED)) return { root: parseRoot(await readFile(SHIPPED, 'utf8'), SHIPPED), source: SHIPPED, kind: 'shipped' };
  // Running from source (tests, tsx): the same bytes the build step would ship.
  return { root: parseRoot(await seededPublicGoodRoot(), '@sigstore/tuf seeds.json'), source: '@sigstore/tuf seeds.json', kind: 'shipped' };
}

/**
 * The trusted root `trust refresh` cached in `dir`, when it is this user's own: the folder and the
 * file owned by this user and not writable by group or others (the rule of the content cache,
 * registry/cache-dir.ts). A trust anchor someone else could have planted is never used: the shipped
 * root is used instead.
 */
async function ownCachedRoot(dir: string): Promise<string | undefined> {
  const file = join(dir, 'trusted_root.json');
  const uid = currentUid();
  try {
    if (unsafeFolder(await lstat(dir), uid)) return undefined;
    const st = await lstat(file);
    if (!st.isFile() || (uid !== undefined && (st.uid !== uid || st.mode & 0o022))) return undefined;
    return file;
  } catch {
    return undefined;
  }
}

function readRootFile(file: string): Promise<string> {
  return readUserText(file, { limit: FILE_LIMITS.trustedRoot, what: 'a Sigstore trusted root', refuse: (message) => new ConfigError(message, file) });
}

/** An error and its causes, one after the other, each said once (undici and TUF wrap the real cause). */
function causes(e: unknown): string {
  const out: string[] = [];
  for (let c: unknown = e, depth = 0; c !== undefined && c !== null && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    const text = c instanceof Error ? c.message || String(code ?? c.name) : String(c);
    const status = (c as { statusCode?: unknown }).statusCode;
    const line = `${text}${typeof code === 'string' && !text.includes(code) ? ` (${code})` : ''}${typeof status === 'number' ? ` (HTTP ${status})` : ''}`;
    if (line && !out.some((o) => o.includes(line))) out.push(line);
  }
  return out.join(': ') || 'unknown error';
}

/**
 * `kamal-gate trust refresh`: fetches the current public-good trusted root through TUF (signed
 * metadata checked from the root in @sigstore/tuf's seeds) and caches it for later offline runs.
 */
export async function refreshTrustedRoot(opts: { cacheDir?: string; mirrorURL?: string; timeoutMs?: number } = {}): Promise<{ path: string }> {
  const { getTrustedRoot } = await import('@sigstore/tuf');
  const dir = opts.cacheDir ?? defaultCacheDir();
  const mirrorURL = opts.mirrorURL ?? PUBLIC_GOOD_MIRROR;
  let root: TrustedRoot;
  try {
    root = await getTrustedRoot({ cachePath: join(dir, 'tuf'), mirrorURL, timeout: opts.timeoutMs ?? 15_000, retry: false });
  } catch (e) {
    throw new Error(`the TUF repository ${mirrorURL}: ${causes(e)}`, { cause: e });
  }
  await mkdir(dir, { recursive: true, mode: 0o700 }); // as the content cache makes it (registry/cache-dir.ts)
  const path = join(dir, 'trusted_root.json');
  await writeFile(`${path}.tmp`, JSON.stringify(TrustedRoot.toJSON(root), null, 2) + '\n');
  await rename(`${path}.tmp`, path);
  loaded.clear();
  return { path };
}
