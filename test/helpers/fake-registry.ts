/**
 * An in-process HTTP server on 127.0.0.1 that plays a registry and can be told to lie: tests use it
 * for what a real registry will not do (wrong bytes, bad headers, redirects, rate limits).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

export interface FakeServer {
  host: string;
  url: string;
  requests: SeenRequest[];
  handler: Handler;
  stop(): Promise<void>;
}

export async function startFakeServer(handler: Handler): Promise<FakeServer> {
  const requests: SeenRequest[] = [];
  const state: FakeServer = { host: '', url: '', requests, handler, stop: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
      Promise.resolve(state.handler(req, res, Buffer.concat(chunks))).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.host = `127.0.0.1:${port}`;
  state.url = `http://127.0.0.1:${port}`;
  let stopped = false;
  state.stop = async () => {
    if (stopped) return;
    stopped = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}

export const sha256 = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

export interface FakeImage {
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
  config: Buffer;
  configDigest: string;
}

export function fakeImage(opts: { created?: string; labels?: Record<string, string>; arch?: string } = {}): FakeImage {
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.arch ?? 'amd64',
      os: 'linux',
      created: opts.created ?? '2026-11-01T00:00:00Z',
      config: { Labels: opts.labels ?? { service: 'app' } },
      rootfs: { type: 'layers', diff_ids: [sha256('layer')] },
    }),
  );
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256('layer'), size: 5 }],
    }),
  );
  return { manifest, manifestDigest: sha256(manifest), mediaType, config, configDigest: sha256(config) };
}

/** A handler that serves one image honestly under `/v2/<repo>/manifests/<tag|digest>` and its config blob. */
export function honest(repo: string, tag: string, img: FakeImage): Handler {
  return (req, res) => {
    const path = req.url ?? '';
    if (path === '/v2/') return void res.writeHead(200).end('{}');
    if (path === `/v2/${repo}/manifests/${tag}` || path === `/v2/${repo}/manifests/${img.manifestDigest}`) {
      res.writeHead(200, {
        'content-type': img.mediaType,
        'docker-content-digest': img.manifestDigest,
        'content-length': img.manifest.length,
      });
      return void res.end(req.method === 'HEAD' ? undefined : img.manifest);
    }
    if (path === `/v2/${repo}/blobs/${img.configDigest}`) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': img.config.length });
      return void res.end(img.config);
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  };
}
