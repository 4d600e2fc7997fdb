/**
 * Pushes test images to a TestRegistry through the distribution API (global fetch), with its own
 * minimal auth: none, Basic (htpasswd), or a token minted directly by the test token server (so the
 * harness's own pushes never show up in the token server's request counters). Independent of
 * kamal-gate's registry client on purpose: that client is tested against what this pushes.
 *
 *   const b = new ImageBuilder(reg);
 *   const img = await b.pushImage('app', 'v1', { platforms: [{ os: 'linux', architecture: 'amd64' }] });
 */
import { buildImage, MANIFEST_ACCEPT, sha256, type Descriptor, type ImageContent, type ImageSpec } from './image-content.js';
import type { TestRegistry } from './registry.js';

export * from './image-content.js';

export interface PushedImage extends ImageContent {
  repo: string;
  tag: string;
  /** '127.0.0.1:PORT/repo:tag' */
  ref: string;
  /** '127.0.0.1:PORT/repo@sha256:…' */
  pinned: string;
}

export interface ManifestHead {
  status: number;
  /** Docker-Content-Digest */
  digest: string | undefined;
  contentType: string | undefined;
  contentLength: number | undefined;
  headers: Headers;
}

export interface FetchedManifest extends ManifestHead {
  bytes: Buffer;
  /** sha256 of the bytes actually received */
  computedDigest: string;
}

export interface BuilderRequestInit {
  headers?: Record<string, string>;
  body?: Buffer | string;
}

const ERROR_BODY_CAP = 2000;

export class ImageBuilder {
  private readonly tokens = new Map<string, string>();

  constructor(readonly reg: TestRegistry) {}

  /** An authenticated request to the registry; `path` starts with /v2/. Never throws on HTTP status. */
  async request(method: string, path: string, repo: string | undefined, init: BuilderRequestInit = {}): Promise<Response> {
    const url = new URL(path, this.reg.url);
    if (url.origin !== new URL(this.reg.url).origin) throw new Error(`refusing to send a request to ${url.origin}`);
    const headers: Record<string, string> = { ...init.headers };
    const authorization = this.authorization(repo);
    if (authorization) headers.authorization = authorization;
    return fetch(url, { method, headers, body: init.body, redirect: 'manual' });
  }

  private authorization(repo: string | undefined): string | undefined {
    const { auth, username, password, tokenServer } = this.reg;
    if (auth === 'htpasswd') return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
    if (auth !== 'token' || !tokenServer) return undefined;
    const key = repo ?? '';
    let token = this.tokens.get(key);
    if (!token) {
      const access = repo ? [{ type: 'repository', name: repo, actions: ['pull', 'push', 'delete'] }] : [{ type: 'registry', name: 'catalog', actions: ['*'] }];
      token = tokenServer.mint(username, access, 3600);
      this.tokens.set(key, token);
    }
    return `Bearer ${token}`;
  }

  private async expect(res: Response, ok: number[], what: string): Promise<Response> {
    if (ok.includes(res.status)) return res;
    const text = (await res.text()).slice(0, ERROR_BODY_CAP);
    throw new Error(`${what}: HTTP ${res.status} ${text}`);
  }

  /** Uploads a blob (monolithic: POST then PUT ?digest=), unless HEAD says it is there already. */
  async pushBlob(repo: string, bytes: Buffer, mediaType = 'application/octet-stream'): Promise<Descriptor> {
    const digest = sha256(bytes);
    const descriptor = { mediaType, digest, size: bytes.length };
    const head = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, repo);
    await head.body?.cancel();
    if (head.status === 200) return descriptor;
    const start = await this.expect(await this.request('POST', `/v2/${repo}/blobs/uploads/`, repo), [202], `start upload to ${repo}`);
    await start.body?.cancel();
    const location = start.headers.get('location');
    if (!location) throw new Error(`start upload to ${repo}: no Location header`);
    const put = new URL(location, this.reg.url);
    put.searchParams.set('digest', digest);
    const done = await this.expect(
      await this.request('PUT', put.pathname + put.search, repo, {
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      }),
      [201],
      `upload ${digest} to ${repo}`,
    );
    await done.body?.cancel();
    return descriptor;
  }

  /** PUTs manifest bytes (or an object, serialised as JSON) under a tag or digest; checks the digest the registry answers. */
  async pushManifest(repo: string, reference: string, body: Buffer | object, mediaType?: string): Promise<{ digest: string; size: number; mediaType: string }> {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const type = mediaType ?? (Buffer.isBuffer(body) ? undefined : (body as { mediaType?: unknown }).mediaType);
    if (typeof type !== 'string') throw new Error('pushManifest: pass mediaType (the body has none)');
    const res = await this.expect(
      await this.request('PUT', `/v2/${repo}/manifests/${reference}`, repo, { headers: { 'content-type': type }, body: bytes }),
      [201],
      `push manifest ${repo}:${reference}`,
    );
    await res.body?.cancel();
    const digest = sha256(bytes);
    const answered = res.headers.get('docker-content-digest');
    if (answered !== digest) throw new Error(`push manifest ${repo}:${reference}: registry answered digest ${answered}, expected ${digest}`);
    return { digest, size: bytes.length, mediaType: type };
  }

  /** Pushes built content: blobs, child manifests by digest, then the top manifest under `tag`. */
  async pushContent(repo: string, tag: string, content: ImageContent): Promise<PushedImage> {
    for (const bytes of content.blobs.values()) await this.pushBlob(repo, bytes);
    const top = content.manifestsInOrder.at(-1);
    for (const m of content.manifestsInOrder) {
      await this.pushManifest(repo, m === top ? tag : m.digest, m.bytes, m.mediaType);
    }
    return { ...content, repo, tag, ref: `${this.reg.host}/${repo}:${tag}`, pinned: `${this.reg.host}/${repo}@${content.digest}` };
  }

  /** Builds an image from `spec` (see ImageSpec) and pushes it as repo:tag. */
  async pushImage(repo: string, tag: string, spec: ImageSpec = {}): Promise<PushedImage> {
    return this.pushContent(repo, tag, buildImage(spec));
  }

  /** HEAD with the full Accept list (or `accept`). */
  async headManifest(repo: string, reference: string, accept = MANIFEST_ACCEPT): Promise<ManifestHead> {
    const res = await this.request('HEAD', `/v2/${repo}/manifests/${reference}`, repo, { headers: { accept } });
    await res.body?.cancel();
    return describe(res);
  }

  /** GET with the full Accept list (or `accept`); never throws on status (check `status`). */
  async getManifest(repo: string, reference: string, accept = MANIFEST_ACCEPT): Promise<FetchedManifest> {
    const res = await this.request('GET', `/v2/${repo}/manifests/${reference}`, repo, { headers: { accept } });
    const bytes = Buffer.from(await res.arrayBuffer());
    return { ...describe(res), bytes, computedDigest: sha256(bytes) };
  }

  async getBlob(repo: string, digest: string): Promise<Buffer> {
    const res = await this.expect(await this.request('GET', `/v2/${repo}/blobs/${digest}`, repo), [200], `get blob ${repo}@${digest}`);
    return Buffer.from(await res.arrayBuffer());
  }

  /** DELETE a manifest by digest (2.8 refuses tags; needs storage.delete.enabled). Removes every tag pointing to it. */
  async deleteManifest(repo: string, digest: string): Promise<void> {
    const res = await this.expect(await this.request('DELETE', `/v2/${repo}/manifests/${digest}`, repo), [202], `delete ${repo}@${digest}`);
    await res.body?.cancel();
  }

  /** Points `toTag` at an existing manifest (re-PUTs its exact bytes). */
  async tagExisting(repo: string, fromDigest: string, toTag: string): Promise<{ digest: string; size: number; mediaType: string }> {
    const m = await this.getManifest(repo, fromDigest);
    if (m.status !== 200 || !m.contentType) throw new Error(`tagExisting: ${repo}@${fromDigest} answered HTTP ${m.status}`);
    if (m.computedDigest !== fromDigest) throw new Error(`tagExisting: ${repo}@${fromDigest} returned bytes with digest ${m.computedDigest}`);
    return this.pushManifest(repo, toTag, m.bytes, m.contentType);
  }

  /** Tags of a repository (unsorted on 2.8). */
  async listTags(repo: string): Promise<string[]> {
    const res = await this.expect(await this.request('GET', `/v2/${repo}/tags/list`, repo), [200], `list tags of ${repo}`);
    const body = (await res.json()) as { tags?: string[] | null };
    return body.tags ?? [];
  }
}

function describe(res: Response): ManifestHead {
  const length = res.headers.get('content-length');
  return {
    status: res.status,
    digest: res.headers.get('docker-content-digest') ?? undefined,
    contentType: res.headers.get('content-type') ?? undefined,
    contentLength: length === null ? undefined : Number(length),
    headers: res.headers,
  };
}
