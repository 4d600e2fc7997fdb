/**
 * A fault-injecting registry served in-process on 127.0.0.1 (random port): it stores a real-looking
 * image (an OCI index → one manifest per platform → config and layers), optionally signed with a
 * cosign-format legacy `.sig` tag, and serves it honestly unless a scenario's `fault` handler takes
 * the request first. Each scenario injects one fault; `requests` records what the server saw so
 * tests can assert, for example, that credentials never left for another host or how many attempts
 * a rate-limited client made.
 *
 * Helpers at the bottom write the misbehaving bodies (dripping, endless, truncated).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { simpleSigning, signPayload } from './cosign-format.js';
import { startFakeServer, type FakeServer, type SeenRequest } from './fake-registry.js';
import { buildImage, MediaType, sha256, type ImageContent, type ImageSpec, type PlatformImage } from './image-content.js';

export { sha256 };

/** Returns true when it answered the request itself; false lets the honest registry answer. */
export type Fault = (req: IncomingMessage, res: ServerResponse, reg: HostileRegistry) => boolean | Promise<boolean>;

export interface HostileOptions {
  repo?: string;
  tag?: string;
  /** default: linux/amd64 and linux/arm64 (an index) */
  image?: ImageSpec;
  /** sign the index digest with a fresh P-256 key as a legacy cosign `.sig` tag */
  signed?: boolean;
  /** Bearer auth: every /v2/ request needs `Authorization: Bearer <token>`, tokens from /token. */
  bearer?: { token: string; expiresIn?: number; issuedAt?: string };
  /** Basic auth: every /v2/ request needs these credentials. */
  basic?: { username: string; password: string };
}

export interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
}

export class HostileRegistry {
  readonly repo: string;
  readonly tag: string;
  readonly image: ImageContent;
  readonly manifests = new Map<string, StoredManifest>();
  readonly tags = new Map<string, string>();
  readonly blobs = new Map<string, Buffer>();
  /** The signing key (with `signed`). */
  key?: { privateKey: KeyObject; publicKey: KeyObject; pem: string };
  fault?: Fault;
  /** Token endpoint answer, replaceable per scenario. */
  tokenResponse?: () => { status: number; body: Buffer | string };

  private constructor(
    readonly server: FakeServer,
    opts: HostileOptions,
  ) {
    this.repo = opts.repo ?? 'app';
    this.tag = opts.tag ?? 'v1';
    this.image = buildImage({
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      created: '2026-11-01T00:00:00Z',
      seed: 'hostile',
      ...opts.image,
    });
    for (const m of this.image.manifestsInOrder) this.manifests.set(m.digest, { bytes: m.bytes, mediaType: m.mediaType });
    for (const [d, b] of this.image.blobs) this.blobs.set(d, b);
    this.tags.set(this.tag, this.image.digest);
  }

  static async start(opts: HostileOptions = {}): Promise<HostileRegistry> {
    let reg: HostileRegistry | undefined;
    const server = await startFakeServer(async (req, res) => {
      await reg!.handle(req, res);
    });
    reg = new HostileRegistry(server, opts);
    if (opts.signed) reg.sign(reg.image.digest);
    if (opts.bearer) {
      const b = opts.bearer;
      reg.tokenResponse = () => ({
        status: 200,
        body: JSON.stringify({ token: b.token, ...(b.expiresIn !== undefined ? { expires_in: b.expiresIn } : {}), ...(b.issuedAt ? { issued_at: b.issuedAt } : {}) }),
      });
      reg.bearerToken = b.token;
    }
    if (opts.basic) reg.basicAuth = `Basic ${Buffer.from(`${opts.basic.username}:${opts.basic.password}`).toString('base64')}`;
    return reg;
  }

  /** Token the registry accepts (with `bearer`); undefined accepts any request. */
  bearerToken?: string;
  /** The Basic Authorization header the registry accepts (with `basic`). */
  basicAuth?: string;

  get host(): string {
    return this.server.host;
  }
  get url(): string {
    return this.server.url;
  }
  get requests(): SeenRequest[] {
    return this.server.requests;
  }
  /** `host/repo:tag` */
  get ref(): string {
    return `${this.host}/${this.repo}:${this.tag}`;
  }
  /** The manifest a linux/amd64 host pulls. */
  get amd64(): PlatformImage {
    return this.image.manifests[0]!;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  /** Stores a manifest (optionally under a tag) and returns its digest. */
  putManifest(doc: object | Buffer, mediaType: string, tag?: string): string {
    const bytes = Buffer.isBuffer(doc) ? doc : Buffer.from(JSON.stringify(doc));
    const digest = sha256(bytes);
    this.manifests.set(digest, { bytes, mediaType });
    if (tag) this.tags.set(tag, digest);
    return digest;
  }

  putBlob(bytes: Buffer): { digest: string; size: number } {
    const digest = sha256(bytes);
    this.blobs.set(digest, bytes);
    return { digest, size: bytes.length };
  }

  /** A simple-signing manifest for `digest`, signed with the registry's key (made on first use). */
  signatureManifest(digest: string, opts: { subject?: { mediaType: string; digest: string; size: number } } = {}): object {
    if (!this.key) {
      const kp = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      this.key = { ...kp, pem: kp.publicKey.export({ format: 'pem', type: 'spki' }).toString() };
    }
    const payload = simpleSigning(`${this.host}/${this.repo}`, digest);
    const layer = this.putBlob(payload);
    const config = this.putBlob(Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
    return {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, ...config },
      layers: [
        {
          mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
          ...layer,
          annotations: { 'dev.cosignproject.cosign/signature': signPayload(payload, this.key.privateKey) },
        },
      ],
      ...(opts.subject ? { subject: opts.subject } : {}),
    };
  }

  /** Signs `digest` the legacy cosign way: a `sha256-<hex>.sig` tag. */
  sign(digest: string): void {
    this.putManifest(this.signatureManifest(digest), MediaType.ociManifest, `${digest.replace(':', '-')}.sig`);
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.basicAuth) return req.headers.authorization === this.basicAuth;
    return !this.bearerToken || req.headers.authorization === `Bearer ${this.bearerToken}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.fault && (await this.fault(req, res, this))) return;
    this.honest(req, res);
  }

  /** The honest answer: what a well-behaved distribution registry says. */
  honest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname;
    if (path === '/token') {
      const t = this.tokenResponse?.() ?? { status: 404, body: '' };
      res.writeHead(t.status, { 'content-type': 'application/json' });
      return void res.end(t.body);
    }
    if (!this.authorized(req)) {
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': this.basicAuth ? 'Basic realm="hostile"' : `Bearer realm="${this.url}/token",service="hostile",scope="repository:${this.repo}:pull"`,
      });
      return void res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    }
    if (path === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    const prefix = `/v2/${this.repo}/`;
    if (!path.startsWith(prefix)) return notFound(res, 'NAME_UNKNOWN');
    const rest = path.slice(prefix.length);
    const [kind, ...more] = rest.split('/');
    const reference = more.join('/');
    if (kind === 'manifests') {
      const digest = reference.includes(':') ? reference : this.tags.get(reference);
      const m = digest ? this.manifests.get(digest) : undefined;
      if (!m || !digest) return notFound(res, 'MANIFEST_UNKNOWN');
      if (req.headers['if-none-match'] === `"${digest}"`) {
        return void res.writeHead(304, { 'docker-content-digest': digest, etag: `"${digest}"` }).end();
      }
      res.writeHead(200, { 'content-type': m.mediaType, 'content-length': m.bytes.length, 'docker-content-digest': digest, etag: `"${digest}"` });
      return void res.end(req.method === 'HEAD' ? undefined : m.bytes);
    }
    if (kind === 'blobs') {
      const b = this.blobs.get(reference);
      if (!b) return notFound(res, 'BLOB_UNKNOWN');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': b.length, 'docker-content-digest': reference });
      return void res.end(req.method === 'HEAD' ? undefined : b);
    }
    if (kind === 'referrers') {
      // No referrers API (as distribution 2.8): clients fall back to the sha256-<hex> tag.
      return notFound(res, 'UNSUPPORTED');
    }
    if (kind === 'tags' && reference === 'list') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ name: this.repo, tags: [...this.tags.keys()] }));
    }
    notFound(res, 'NOT_FOUND');
  }

  /** The paths the server was asked for, `METHOD path`. */
  seen(filter?: RegExp): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}`).filter((s) => !filter || filter.test(s));
  }
}

function notFound(res: ServerResponse, code: string): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ code, message: code.toLowerCase().replace(/_/g, ' ') }] }));
}

/** Whether the request is for this path of the repository, e.g. `manifests/v1` or `blobs/<digest>`. */
export function isPath(req: IncomingMessage, reg: HostileRegistry, rest: string): boolean {
  return new URL(req.url ?? '/', reg.url).pathname === `/v2/${reg.repo}/${rest}`;
}

/** Sends `body` one byte every `everyMs`, until done or the client goes away. */
export function drip(res: ServerResponse, body: Buffer, everyMs: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(200, { 'content-length': body.length, ...headers });
  let i = 0;
  const timer = setInterval(() => {
    if (i >= body.length) {
      clearInterval(timer);
      return void res.end();
    }
    res.write(body.subarray(i, ++i));
  }, everyMs);
  res.on('close', () => clearInterval(timer));
}

/** A chunked body that never ends: 64 KiB of `fill` at a time, until the client goes away. */
export function endless(res: ServerResponse, headers: Record<string, string | number> = {}, fill = ' '): void {
  res.writeHead(200, headers);
  const chunk = Buffer.alloc(64 * 1024, fill);
  let open = true;
  res.on('close', () => (open = false));
  const pump = () => {
    while (open && res.write(chunk));
    if (open) res.once('drain', pump);
  };
  pump();
}

/** Declares the full length, sends the first `keep` bytes, then drops the connection. */
export function truncated(res: ServerResponse, body: Buffer, keep: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(200, { 'content-length': body.length, ...headers });
  res.write(body.subarray(0, keep), () => res.destroy());
}
