/**
 * skopeo for tests: write an OCI image layout from test content, copy images between layouts and
 * test registries (plain http on loopback), and read raw manifests. Runs skopeo with execFile (no
 * shell) and `--insecure-policy` (the content is our own).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, MediaType, sha256, type ImageContent, type ImageSpec, type Platform } from './image-content.js';

export interface OciLayout {
  dir: string;
  tag: string;
  /** 'oci:<dir>:<tag>' for skopeo */
  ref: string;
  content: ImageContent;
}

interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }>;
}

/**
 * Writes `image` (built content, or a spec to build) into an OCI image layout at `dir` under `tag`
 * (oci-layout, index.json, blobs/sha256/…). An existing layout gets the image added (same tag replaced).
 */
export async function writeOciLayout(dir: string, image: ImageContent | ImageSpec = {}, tag = 'latest'): Promise<OciLayout> {
  const content = 'blobs' in image && image.blobs instanceof Map ? (image as ImageContent) : buildImage(image as ImageSpec);
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  const write = (digest: string, bytes: Buffer) => writeFile(join(blobDir, digest.replace(/^sha256:/, '')), bytes);
  for (const [digest, bytes] of content.blobs) await write(digest, bytes);
  for (const m of content.manifestsInOrder) await write(m.digest, m.bytes);

  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const indexPath = join(dir, 'index.json');
  let index: LayoutIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8')) as LayoutIndex;
  } catch {
    // new layout
  }
  const refName = 'org.opencontainers.image.ref.name';
  index.manifests = index.manifests.filter((m) => m.annotations?.[refName] !== tag);
  index.manifests.push({ mediaType: content.mediaType, digest: content.digest, size: content.size, annotations: { [refName]: tag } });
  await writeFile(indexPath, JSON.stringify(index));
  return { dir, tag, ref: `oci:${dir}:${tag}`, content };
}

export interface SkopeoResult {
  stdout: string;
  stderr: string;
}

export interface SkopeoCopyOptions {
  /** 'user:password' for a docker:// source */
  srcCreds?: string;
  /** 'user:password' for a docker:// destination */
  destCreds?: string;
  /** copy every image of an index (--all); without it skopeo copies only the linux/amd64 instance */
  all?: boolean;
  /** --format oci | v2s2 (convert the manifest type) */
  format?: 'oci' | 'v2s2';
  /** --preserve-digests: fail rather than change a digest */
  preserveDigests?: boolean;
  extraArgs?: string[];
}

/** Hides the password of `--*creds user:password` in text shown in errors. */
function redact(args: string[]): string[] {
  return args.map((a, i) => (/^--(src-|dest-)?creds$/.test(args[i - 1] ?? '') ? a.replace(/:.*/, ':***') : a));
}

function run(args: string[], encoding: 'utf8'): Promise<{ stdout: string; stderr: string }>;
function run(args: string[], encoding: 'buffer'): Promise<{ stdout: Buffer; stderr: string }>;
function run(args: string[], encoding: 'utf8' | 'buffer'): Promise<{ stdout: string | Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { encoding: encoding === 'buffer' ? 'buffer' : 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      const errText = Buffer.isBuffer(stderr) ? stderr.toString('utf8') : stderr;
      if (err) {
        reject(new Error(`skopeo ${redact(args).join(' ')} failed (${err.code ?? err.signal ?? err.message}):\n${errText}`));
        return;
      }
      resolve({ stdout, stderr: errText });
    });
  });
}

/** tls-verify flags only apply to docker:// refs; skopeo rejects them for other transports on some versions. */
const isDocker = (ref: string) => ref.startsWith('docker://');

/** `skopeo copy` from src to dest (e.g. 'oci:/tmp/x:latest' → 'docker://127.0.0.1:PORT/repo:tag'). Throws with stderr on failure. */
export async function skopeoCopy(src: string, dest: string, opts: SkopeoCopyOptions = {}): Promise<SkopeoResult> {
  const args = ['--insecure-policy', 'copy', '--retry-times', '0'];
  if (isDocker(src)) args.push('--src-tls-verify=false');
  if (isDocker(dest)) args.push('--dest-tls-verify=false');
  if (opts.srcCreds !== undefined) args.push('--src-creds', opts.srcCreds);
  if (opts.destCreds !== undefined) args.push('--dest-creds', opts.destCreds);
  if (opts.all) args.push('--all');
  if (opts.format) args.push('--format', opts.format);
  if (opts.preserveDigests) args.push('--preserve-digests');
  args.push(...(opts.extraArgs ?? []), src, dest);
  return run(args, 'utf8');
}

/** `skopeo inspect --raw` of a docker:// ref (or 'host/repo:tag', prefixed for you): the manifest bytes as served. */
export async function skopeoInspectRaw(ref: string, opts: { creds?: string } = {}): Promise<Buffer> {
  const full = ref.includes('://') || ref.startsWith('oci:') ? ref : `docker://${ref}`;
  const args = ['--insecure-policy', 'inspect', '--raw', '--retry-times', '0'];
  if (isDocker(full)) args.push('--tls-verify=false');
  if (opts.creds !== undefined) args.push('--creds', opts.creds);
  args.push(full);
  return (await run(args, 'buffer')).stdout;
}

/**
 * The manifest skopeo (containers/image `ChooseInstance`) picks from an index for a host platform:
 * `skopeo --override-os/--override-arch[/--override-variant] copy` of 'host/repo:tag' into a `dir:`
 * layout, and the digest of the manifest it wrote (dir: never converts it). Undefined when skopeo
 * finds no image for the platform.
 */
export async function skopeoChoice(ref: string, platform: Platform): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'kg-skopeo-choice-'));
  try {
    const override = ['--override-os', platform.os, '--override-arch', platform.architecture, ...(platform.variant ? ['--override-variant', platform.variant] : [])];
    try {
      await run(['--insecure-policy', ...override, 'copy', '--retry-times', '0', '--src-tls-verify=false', `docker://${ref}`, `dir:${dir}`], 'utf8');
    } catch (e) {
      if (/no image found in (image index|manifest list)/.test(String(e))) return undefined;
      throw e;
    }
    return sha256(await readFile(join(dir, 'manifest.json')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
