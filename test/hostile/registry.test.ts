/**
 * A hostile registry, one fault per scenario, against the real CLI (dist/cli.js). Every scenario
 * asserts the documented exit code (3 could not verify for a registry that fails or lies; 1 where
 * the policy decides, e.g. a signature that belongs to another image is no signature), output that
 * names the image and its registry, no stack trace, and never a pass.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startFakeServer, type FakeServer } from '../helpers/fake-registry.js';
import { drip, endless, HostileRegistry, isPath, sha256, truncated, type HostileOptions } from '../helpers/hostile-registry.js';
import { buildImage, MediaType } from '../helpers/image-content.js';

let dir: string;
const servers: Array<{ stop(): Promise<void> }> = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kg-hostile-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function registry(opts: HostileOptions = {}): Promise<HostileRegistry> {
  const reg = await HostileRegistry.start(opts);
  servers.push(reg);
  return reg;
}

async function plainServer(handler: Parameters<typeof startFakeServer>[0]): Promise<FakeServer> {
  const s = await startFakeServer(handler);
  servers.push(s);
  return s;
}

/** No docker login of the developer's leaks in. */
const env = () => ({ DOCKER_CONFIG: join(dir, 'no-docker') });

/** A policy that requires one signature by the registry's key, so a false pass would show. */
function signedPolicy(reg: HostileRegistry): string {
  const d = mkdtempSync(join(dir, 'policy-'));
  if (!reg.key) reg.signatureManifest(reg.image.digest); // makes the key
  writeFileSync(join(d, 'cosign.pub'), reg.key!.pem);
  writeFileSync(
    join(d, 'policy.yml'),
    ['version: 1', 'defaults:', '  base:', '    mode: off', '  signatures:', '    mode: enforce', '    count: 1', '    keys: [cosign.pub]', '    tlog: optional', ''].join('\n'),
  );
  return join(d, 'policy.yml');
}

function verify(reg: HostileRegistry, extra: string[] = [], input?: string): Promise<CliResult> {
  return runCli(['verify', reg.ref, '--no-ledger', '--format', 'json', '--quiet', '--timeout', '5', ...extra], { env: env(), ...(input ? { input } : {}) });
}

interface ImageOut {
  ref: string;
  status: string;
  digest?: string;
  error?: { kind: string; message: string };
  findings?: Array<{ rule: string; fails: boolean; message: string }>;
}

function parse(r: CliResult): { images: ImageOut[]; exitCode: number } {
  try {
    return JSON.parse(r.stdout) as { images: ImageOut[]; exitCode: number };
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

function noCrash(r: CliResult): void {
  expect(r.stderr + r.stdout).not.toMatch(/\n\s+at |internal error|unexpected failure|TypeError|RangeError/);
}

/**
 * The image could not be verified: exit 3, its entry an error whose message names the registry
 * (and `also`, e.g. the ref or what went wrong).
 */
function expectUnverified(r: CliResult, reg: HostileRegistry, kind?: string, ...also: RegExp[]): ImageOut {
  noCrash(r);
  const out = parse(r);
  expect(r.code, r.stdout).toBe(3);
  expect(out.exitCode).toBe(3);
  const img = out.images.find((i) => i.ref === reg.ref)!;
  expect(img.status).toBe('error');
  expect(img.error!.message).toContain(reg.host);
  if (kind) expect(img.error!.kind).toBe(kind);
  for (const p of also) expect(img.error!.message).toMatch(p);
  return img;
}

/** A policy finding, not a pass: exit 1 with a failing finding of one of the named rules. */
function expectViolation(r: CliResult, reg: HostileRegistry, ...rules: string[]): ImageOut {
  noCrash(r);
  const out = parse(r);
  expect(r.code, r.stdout).toBe(1);
  const img = out.images.find((i) => i.ref === reg.ref)!;
  const failing = img.findings!.filter((f) => f.fails && rules.includes(f.rule));
  expect(
    failing.map((f) => f.rule),
    JSON.stringify(img.findings),
  ).not.toEqual([]);
  for (const f of failing) expect(f.message).toContain(`${reg.host}/${reg.repo}`);
  expect(img.findings!.map((f) => f.rule)).not.toContain('signature.verified');
  return img;
}

const manifestsOf = (reg: HostileRegistry, ref: string, method = 'GET') => reg.seen().filter((s) => s === `${method} /v2/${reg.repo}/manifests/${ref}`).length;

// ---------------------------------------------------------------------------------------------

describe('the honest baseline', () => {
  it('an honest registry passes, and a signed image passes the signature policy', async () => {
    const reg = await registry({ signed: true });
    const r = await verify(reg, ['--policy', signedPolicy(reg)]);
    noCrash(r);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const img = parse(r).images[0]!;
    expect(img.digest).toBe(reg.image.digest);
    expect(img.findings!.map((f) => f.rule)).toContain('signature.verified');
  });
});

describe('content that does not match its digest', () => {
  it('a platform manifest whose bytes are not the digest the index names', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.amd64.digest}`)) return false;
      const evil = Buffer.from(reg.amd64.bytes.toString().replace('"schemaVersion":2', '"schemaVersion": 2'));
      res.writeHead(200, { 'content-type': reg.amd64.mediaType, 'docker-content-digest': reg.amd64.digest });
      res.end(evil);
      return true;
    };
    expectUnverified(await verify(reg), reg, 'digest_mismatch', new RegExp(reg.amd64.digest));
  });

  it('a config blob that is not the bytes its digest names', async () => {
    const reg = await registry();
    const cfg = reg.amd64.config.descriptor;
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `blobs/${cfg.digest}`)) return false;
      res.writeHead(200, { 'content-length': cfg.size });
      res.end(Buffer.alloc(cfg.size, '{'));
      return true;
    };
    expectUnverified(await verify(reg), reg, 'digest_mismatch', new RegExp(cfg.digest));
  });

  it('a signature blob that is not the bytes its digest names (signature policy: exit 3, not a finding)', async () => {
    const reg = await registry({ signed: true });
    const policy = signedPolicy(reg);
    const sigTag = `${reg.image.digest.replace(':', '-')}.sig`;
    const sig = JSON.parse(reg.manifests.get(reg.tags.get(sigTag)!)!.bytes.toString()) as { layers: Array<{ digest: string; size: number }> };
    const layer = sig.layers[0]!;
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `blobs/${layer.digest}`)) return false;
      res.writeHead(200, { 'content-length': layer.size });
      res.end(Buffer.alloc(layer.size, 'x'));
      return true;
    };
    expectUnverified(await verify(reg, ['--policy', policy]), reg, 'digest_mismatch');
  });

  it('a Docker-Content-Digest header that disagrees with the body of the tag', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      res.writeHead(200, { 'content-type': reg.image.mediaType, 'docker-content-digest': reg.amd64.digest });
      res.end(reg.image.bytes);
      return true;
    };
    expectUnverified(await verify(reg), reg, 'digest_mismatch', new RegExp(`${reg.host}/${reg.repo}:${reg.tag}`));
  });

  it('a Docker-Content-Digest header that disagrees with the digest asked for', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.amd64.digest}`)) return false;
      res.writeHead(200, { 'content-type': reg.amd64.mediaType, 'docker-content-digest': reg.image.digest });
      res.end(reg.amd64.bytes);
      return true;
    };
    expectUnverified(await verify(reg), reg, 'protocol', /disagrees/);
  });

  it('a Docker-Content-Digest header that is not a digest', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      res.writeHead(200, { 'content-type': reg.image.mediaType, 'docker-content-digest': 'sha256:../../etc/passwd' });
      res.end(reg.image.bytes);
      return true;
    };
    expectUnverified(await verify(reg), reg, 'protocol', /invalid Docker-Content-Digest/);
  });

  it('a tag that HEAD resolves to a signed image and GET serves as an unsigned one: the served image is judged (signature.missing)', async () => {
    const reg = await registry({ signed: true });
    const policy = signedPolicy(reg);
    const unsigned = buildImage({ platforms: [{ os: 'linux', architecture: 'amd64' }], created: '2026-11-02T00:00:00Z', seed: 'unsigned' });
    for (const m of unsigned.manifestsInOrder) reg.putManifest(m.bytes, m.mediaType);
    for (const [, b] of unsigned.blobs) reg.putBlob(b);
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      const served = req.method === 'HEAD' ? reg.image : unsigned;
      res.writeHead(200, { 'content-type': served.mediaType, 'docker-content-digest': served.digest, 'content-length': served.bytes.length });
      res.end(req.method === 'HEAD' ? undefined : served.bytes);
      return true;
    };
    const img = expectViolation(await verify(reg, ['--policy', policy]), reg, 'signature.missing');
    expect(img.digest).toBe(unsigned.digest);
  });
});

describe('bodies too big, too slow, cut short or malformed', () => {
  it('a manifest over 4 MiB, declared', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      res.writeHead(200, { 'content-type': MediaType.ociManifest, 'content-length': 5 * 1024 * 1024 });
      res.end(Buffer.alloc(5 * 1024 * 1024, ' '));
      return true;
    };
    expectUnverified(await verify(reg), reg, 'protocol', /4194304-byte limit/);
  });

  it('a manifest over 4 MiB, chunked with no length', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      endless(res, { 'content-type': MediaType.ociManifest });
      return true;
    };
    expectUnverified(await verify(reg), reg, 'protocol', /4194304-byte limit/);
  });

  it('an index entry that declares a manifest over 4 MiB is not even fetched', async () => {
    const reg = await registry();
    const index = JSON.parse(reg.image.bytes.toString()) as { manifests: Array<{ size: number }> };
    index.manifests[0]!.size = 5 * 1024 * 1024;
    reg.tags.set(reg.tag, reg.putManifest(index, MediaType.ociIndex));
    expectUnverified(await verify(reg), reg, 'protocol', /over the 4194304-byte limit/);
    expect(manifestsOf(reg, reg.amd64.digest)).toBe(0);
  });

  it('a config blob that never ends', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `blobs/${reg.amd64.configDigest}`)) return false;
      endless(res, {}, '{');
      return true;
    };
    expectUnverified(await verify(reg), reg, 'protocol', /byte limit/);
  });

  it('a body that drips one byte a second runs into the deadline', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      drip(res, reg.image.bytes, 1000, { 'content-type': reg.image.mediaType });
      return true;
    };
    expectUnverified(await verify(reg, ['--timeout', '0.4']), reg, 'registry', /did not answer/, /--timeout/);
  });

  it('a body that drips fast enough to dodge an idle timeout still meets the deadline for the whole request', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `blobs/${reg.amd64.configDigest}`)) return false;
      drip(res, reg.amd64.config.bytes, 100); // ~100 s in all, a byte every 0.1 s
      return true;
    };
    expectUnverified(await verify(reg, ['--timeout', '1']), reg, 'registry', /did not answer/);
  });

  it('a registry that never sends headers', async () => {
    const reg = await registry();
    reg.fault = (req) => isPath(req, reg, `manifests/${reg.tag}`); // taken and never answered
    expectUnverified(await verify(reg, ['--timeout', '0.4']), reg, 'registry', /did not answer/);
  });

  it('a truncated manifest body (connection dropped before Content-Length bytes)', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      truncated(res, reg.image.bytes, 40, { 'content-type': reg.image.mediaType });
      return true;
    };
    expectUnverified(await verify(reg), reg, 'registry', /manifests\/v1/);
    expect(manifestsOf(reg, reg.tag)).toBe(4); // the first try and three retries
  });

  it('a truncated config blob', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `blobs/${reg.amd64.configDigest}`)) return false;
      truncated(res, reg.amd64.config.bytes, 10);
      return true;
    };
    expectUnverified(await verify(reg), reg, 'registry', new RegExp(reg.amd64.configDigest));
  });

  it('a manifest that is not JSON', async () => {
    const reg = await registry();
    reg.tags.set(reg.tag, reg.putManifest(Buffer.from('{"schemaVersion": 2, "mediaType": '), MediaType.ociIndex));
    expectUnverified(await verify(reg), reg, 'protocol', /not valid JSON/, new RegExp(`${reg.repo}:${reg.tag}`));
  });

  it('a config blob that is not JSON', async () => {
    const reg = await registry();
    const config = reg.putBlob(Buffer.from('\u0000\u0001 not json'));
    const m = JSON.parse(reg.amd64.bytes.toString()) as { config: { digest: string; size: number } };
    m.config = { ...m.config, ...config };
    reg.tags.set(reg.tag, reg.putManifest(m, MediaType.ociManifest));
    expectUnverified(await verify(reg), reg, 'protocol', /not a JSON object/);
  });

  it('a Content-Type that says index for a body that is a manifest', async () => {
    const reg = await registry();
    reg.tags.set(reg.tag, reg.amd64.digest);
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      res.writeHead(200, { 'content-type': MediaType.ociIndex, 'docker-content-digest': reg.amd64.digest });
      res.end(reg.amd64.bytes);
      return true;
    };
    expectUnverified(await verify(reg), reg, 'protocol', /disagrees with the manifest's mediaType/);
  });

  it('an index entry that says manifest but leads to an index', async () => {
    const reg = await registry();
    const inner = reg.putManifest(reg.image.bytes, MediaType.ociIndex);
    const outer = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [{ mediaType: MediaType.ociManifest, digest: inner, size: reg.image.bytes.length, platform: { os: 'linux', architecture: 'amd64' } }],
    };
    reg.tags.set(reg.tag, reg.putManifest(outer, MediaType.ociIndex));
    expectUnverified(await verify(reg), reg, 'protocol', /expected a application\/vnd\.oci\.image\.manifest\.v1\+json/);
  });

  it('an index entry with no media type', async () => {
    const reg = await registry();
    const index = JSON.parse(reg.image.bytes.toString()) as { manifests: Array<Record<string, unknown>> };
    delete index.manifests[0]!['mediaType'];
    reg.tags.set(reg.tag, reg.putManifest(index, MediaType.ociIndex));
    expectUnverified(await verify(reg), reg, 'protocol', /has no mediaType/);
  });

  it('a manifest whose config is not an image config (an artifact, not a runnable image)', async () => {
    // An arm64 image dressed as an artifact: without its config the platform cannot be checked.
    const reg = await registry();
    const m = JSON.parse(reg.image.manifests[1]!.bytes.toString()) as { config: { mediaType: string } };
    m.config.mediaType = 'application/vnd.example.not-a-config+json';
    reg.tags.set(reg.tag, reg.putManifest(m, MediaType.ociManifest));
    expectUnverified(await verify(reg), reg, 'protocol', /not a container image/);
  });

  it('an index whose amd64 entry leads to an arm64 image', async () => {
    const reg = await registry();
    const arm = reg.image.manifests[1]!;
    const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [{ mediaType: arm.mediaType, digest: arm.digest, size: arm.size, platform: { os: 'linux', architecture: 'amd64' } }] };
    reg.tags.set(reg.tag, reg.putManifest(index, MediaType.ociIndex));
    expectUnverified(await verify(reg), reg, 'protocol', /lists this image as linux\/amd64 but its config says linux\/arm64/);
  });

  it('a single-platform image whose config names no platform', async () => {
    const reg = await registry();
    const cfg = JSON.parse(reg.image.manifests[1]!.config.bytes.toString()) as Record<string, unknown>;
    delete cfg['architecture'];
    delete cfg['os'];
    const c = reg.putBlob(Buffer.from(JSON.stringify(cfg)));
    const m = JSON.parse(reg.image.manifests[1]!.bytes.toString()) as { config: { digest: string; size: number } };
    m.config = { ...m.config, ...c };
    reg.tags.set(reg.tag, reg.putManifest(m, MediaType.ociManifest));
    expectUnverified(await verify(reg), reg, 'protocol', /names no os and architecture/);
  });

  it('terminal escapes and forged lines in what the registry says are shown escaped', async () => {
    const reg = await registry();
    const forged = '\u001b[2J\u001b[32mall images verified\u001b[0m\nkamal-gate: 1 image pinned';
    reg.fault = (req, res) => {
      if (isPath(req, reg, `manifests/${reg.tag}`)) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'X\u001b[1m', message: forged }] }));
        return true;
      }
      return false;
    };
    const r = await verify(reg);
    const img = expectUnverified(r, reg, 'registry', /answered 500/);
    expect(img.error!.message).not.toMatch(/[\u0000-\u001f]/);
    const text = await runCli(['verify', reg.ref, '--no-ledger', '--quiet'], { env: env() });
    expect(text.code).toBe(3);
    expect(text.stdout + text.stderr).not.toContain('\u001b');
    expect((text.stdout + text.stderr).split('\n').filter((l) => l.startsWith('kamal-gate: 1 image pinned'))).toEqual([]);
  });

  it('a manifest whose media type is a megabyte of escapes is refused with a short message', async () => {
    const reg = await registry();
    reg.tags.set(reg.tag, reg.putManifest({ schemaVersion: 2, mediaType: '\u001b]0;pwned\u0007' + 'x'.repeat(1024 * 1024), layers: [], config: {} }, 'application/json'));
    const r = await verify(reg);
    const img = expectUnverified(r, reg, 'protocol', /unsupported manifest media type/);
    expect(img.error!.message.length).toBeLessThan(1000);
    expect(img.error!.message).not.toMatch(/[\u0000-\u001f]/);
  });

  it('an index whose platform entry does not exist', async () => {
    const reg = await registry();
    reg.manifests.delete(reg.amd64.digest);
    expectUnverified(await verify(reg), reg, 'not_found', new RegExp(reg.amd64.digest));
  });

  it('an index that offers no entry for the platform asked for', async () => {
    const reg = await registry();
    expectUnverified(await verify(reg, ['--platform', 'linux/s390x']), reg, 'platform_missing', /no linux\/s390x image/);
  });
});

describe('redirects and authentication', () => {
  it('a redirect loop', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      const path = new URL(req.url!, reg.url).pathname;
      if (path === `/v2/${reg.repo}/manifests/${reg.tag}`) return (void res.writeHead(302, { location: '/loop/a' }).end(), true);
      if (path === '/loop/a') return (void res.writeHead(307, { location: '/loop/b' }).end(), true);
      if (path === '/loop/b') return (void res.writeHead(302, { location: `/v2/${reg.repo}/manifests/${reg.tag}` }).end(), true);
      return false;
    };
    expectUnverified(await verify(reg), reg, 'protocol', /redirect loop/);
  });

  it('a redirect chain that never ends', async () => {
    const reg = await registry();
    let n = 0;
    reg.fault = (req, res) => {
      const path = new URL(req.url!, reg.url).pathname;
      if (path !== `/v2/${reg.repo}/manifests/${reg.tag}` && !path.startsWith('/hop/')) return false;
      res.writeHead(302, { location: `/hop/${++n}` }).end();
      return true;
    };
    expectUnverified(await verify(reg), reg, 'protocol', /too many redirects/);
    expect(n).toBeLessThanOrEqual(6);
  });

  it('a redirect without a Location', async () => {
    const reg = await registry();
    reg.fault = (req, res) => (isPath(req, reg, `manifests/${reg.tag}`) ? (res.writeHead(302).end(), true) : false);
    expectUnverified(await verify(reg), reg, 'protocol', /without a Location/);
  });

  it('blobs and manifests redirected to a CDN on another host work, and the CDN never sees the token', async () => {
    const reg = await registry({ bearer: { token: 'registry-token-sekrit' } });
    const cdn = await plainServer((req, res) => {
      const digest = new URL(req.url!, 'http://x').pathname.slice('/cdn/'.length);
      const body = reg.blobs.get(digest) ?? reg.manifests.get(digest)?.bytes;
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': body.length, 'content-type': reg.manifests.get(digest)?.mediaType ?? 'application/octet-stream' });
      res.end(body);
    });
    reg.fault = (req, res) => {
      const path = new URL(req.url!, reg.url).pathname;
      const m = /^\/v2\/app\/(blobs|manifests)\/(sha256:[0-9a-f]{64})$/.exec(path);
      if (!m || req.headers.authorization !== 'Bearer registry-token-sekrit') return false;
      res.writeHead(307, { location: `${cdn.url}/cdn/${m[2]}` }).end();
      return true;
    };
    const r = await verify(reg);
    noCrash(r);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(cdn.requests.map((q) => q.path)).toEqual(expect.arrayContaining([`/cdn/${reg.amd64.digest}`, `/cdn/${reg.amd64.configDigest}`]));
    for (const q of cdn.requests) expect(q.headers.authorization).toBeUndefined();
    expect(r.stdout + r.stderr).not.toContain('registry-token-sekrit');
  });

  it('a redirect to another host that serves wrong bytes: refused, and that host never sees the token', async () => {
    const reg = await registry({ bearer: { token: 'registry-token-sekrit' } });
    const evil = await plainServer((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.ociManifest });
      res.end(reg.image.manifests[1]!.bytes); // the arm64 manifest where amd64 was asked for
    });
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.amd64.digest}`) || !req.headers.authorization) return false;
      res.writeHead(302, { location: `${evil.url}/elsewhere` }).end();
      return true;
    };
    expectUnverified(await verify(reg), reg, 'digest_mismatch');
    expect(evil.requests.length).toBeGreaterThan(0);
    for (const q of evil.requests) expect(q.headers.authorization).toBeUndefined();
  });

  it('a token endpoint that redirects to another host never hands it the password', async () => {
    const reg = await registry({ bearer: { token: 'tok' } });
    const thief = await plainServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'stolen' })));
    reg.fault = (req, res) => {
      if (new URL(req.url!, reg.url).pathname !== '/token') return false;
      res.writeHead(307, { location: `${thief.url}/token` }).end();
      return true;
    };
    const r = await verify(reg, ['--registry-username', 'alice', '--registry-password-stdin'], 'hunter2-password\n');
    expectUnverified(r, reg, 'auth');
    expect(thief.requests.length).toBeGreaterThan(0);
    for (const q of thief.requests) expect(q.headers.authorization).toBeUndefined();
    expect(r.stdout + r.stderr).not.toContain('hunter2');
  });

  it('a token endpoint that redirects a refresh-token POST to another host: refused, the token never sent there', async () => {
    const reg = await registry({ bearer: { token: 'tok' } });
    const thief = await plainServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'stolen' })));
    const bodies: string[] = [];
    thief.handler = (_req, res, body) => {
      bodies.push(body.toString());
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'stolen' }));
    };
    reg.fault = (req, res) => {
      if (new URL(req.url!, reg.url).pathname !== '/token') return false;
      res.writeHead(307, { location: `${thief.url}/token` }).end();
      return true;
    };
    const docker = mkdtempSync(join(dir, 'docker-'));
    writeFileSync(join(docker, 'config.json'), JSON.stringify({ auths: { [reg.host]: { identitytoken: 'refresh-token-sekrit' } } }));
    const r = await runCli(['verify', reg.ref, '--no-ledger', '--format', 'json', '--quiet'], { env: { DOCKER_CONFIG: docker } });
    expect(bodies.join('')).not.toContain('refresh-token-sekrit');
    expectUnverified(r, reg, 'protocol', /refusing to send a POST body to another host/);
    expect(r.stdout + r.stderr).not.toContain('refresh-token-sekrit');
  });

  for (const body of ['null', '[]', '"a string"', '{"token": 42}', '<html>login</html>']) {
    it(`a token endpoint that answers ${body}`, async () => {
      const reg = await registry({ bearer: { token: 'tok' } });
      reg.tokenResponse = () => ({ status: 200, body });
      expectUnverified(await verify(reg), reg, 'protocol', /token service/);
    });
  }

  it('a token endpoint that returns a huge token', async () => {
    const reg = await registry({ bearer: { token: 'tok' } });
    reg.tokenResponse = () => ({ status: 200, body: JSON.stringify({ token: 'A'.repeat(200 * 1024) }) });
    const r = await verify(reg);
    expectUnverified(r, reg, 'protocol', /token/);
    expect(r.stdout.length).toBeLessThan(10_000);
  });

  it('a token endpoint that returns a token over the 1 MiB body cap', async () => {
    const reg = await registry({ bearer: { token: 'tok' } });
    reg.tokenResponse = () => ({ status: 200, body: JSON.stringify({ token: 'A'.repeat(2 * 1024 * 1024) }) });
    expectUnverified(await verify(reg), reg, 'protocol', /limit/);
  });

  it('a token endpoint that returns tokens already expired, which the registry refuses: bounded, exit 3', async () => {
    const reg = await registry({ bearer: { token: 'never-this-one' } });
    reg.tokenResponse = () => ({ status: 200, body: JSON.stringify({ token: 'expired-token', expires_in: 60, issued_at: '2001-01-01T00:00:00Z' }) });
    const r = await verify(reg);
    expectUnverified(r, reg, 'auth', /refused|requires credentials/);
    expect(reg.seen(/^GET \/token/).length).toBeLessThanOrEqual(3);
  });

  it('401 after a token', async () => {
    const reg = await registry({ bearer: { token: 'accepted-nowhere' } });
    reg.tokenResponse = () => ({ status: 200, body: JSON.stringify({ token: 'issued-token', expires_in: 300 }) });
    reg.fault = (req, res) => {
      if (req.headers.authorization !== 'Bearer issued-token') return false;
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${reg.url}/token",service="hostile",error="invalid_token"` }).end();
      return true;
    };
    const r = await verify(reg);
    expectUnverified(r, reg, 'auth', /invalid_token/);
    expect(reg.seen(/^GET \/v2\/app\/manifests\/v1$/).length).toBeLessThanOrEqual(3);
    expect(reg.seen(/^GET \/token/).length).toBeLessThanOrEqual(2);
  });
});

describe('rate limits and server errors', () => {
  const storm = (reg: HostileRegistry, status: number, headers: Record<string, string> = {}) => {
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }));
      return true;
    };
  };

  it('a 429 storm with Retry-After: bounded attempts, then exit 3', async () => {
    const reg = await registry();
    storm(reg, 429, { 'retry-after': '1' });
    expectUnverified(await verify(reg), reg, 'registry', /rate limiting/, /Retry-After/);
    expect(manifestsOf(reg, reg.tag)).toBe(4);
  });

  it('a 429 with a Retry-After far in the future fails at once', async () => {
    const reg = await registry();
    storm(reg, 429, { 'retry-after': '86400' });
    expectUnverified(await verify(reg), reg, 'registry', /rate limiting/);
    expect(manifestsOf(reg, reg.tag)).toBe(1);
  });

  it('a 429 storm on the signature tag is could-not-verify, not a missing signature', async () => {
    const reg = await registry({ signed: true });
    const policy = signedPolicy(reg);
    const sigTag = `${reg.image.digest.replace(':', '-')}.sig`;
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${sigTag}`)) return false;
      res.writeHead(429, { 'retry-after': '0' }).end();
      return true;
    };
    expectUnverified(await verify(reg, ['--policy', policy]), reg, 'registry', /rate limiting/);
    expect(manifestsOf(reg, sigTag)).toBe(4);
  });

  it('a 503 storm: bounded attempts, then exit 3', async () => {
    const reg = await registry();
    storm(reg, 503);
    expectUnverified(await verify(reg), reg, 'registry', /answered 503/);
    expect(manifestsOf(reg, reg.tag)).toBe(4);
  });

  it('a registry that drops every connection: bounded retries, then exit 3', async () => {
    const reg = await registry();
    reg.fault = (req, res) => (isPath(req, reg, `manifests/${reg.tag}`) ? (res.socket?.destroy(), true) : false);
    expectUnverified(await verify(reg), reg, 'registry', /manifests\/v1 failed/);
    expect(manifestsOf(reg, reg.tag)).toBe(4);
  });

  it('a 500 is not retried', async () => {
    const reg = await registry();
    storm(reg, 500);
    expectUnverified(await verify(reg), reg, 'registry', /answered 500/);
    expect(manifestsOf(reg, reg.tag)).toBe(1);
  });

  it('a 502 with an HTML page for the config blob', async () => {
    const reg = await registry();
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `blobs/${reg.amd64.configDigest}`)) return false;
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>Bad Gateway</body></html>');
      return true;
    };
    expectUnverified(await verify(reg), reg, 'registry', /answered 502/);
  });
});

describe('referrers', () => {
  it('a referrers API that pages forever: bounded, and no signature is no pass', async () => {
    const reg = await registry();
    const policy = signedPolicy(reg);
    const unrelated = buildImage({ seed: 'unrelated', created: '2026-11-01T00:00:00Z' });
    let pages = 0;
    reg.fault = (req, res) => {
      const url = new URL(req.url!, reg.url);
      if (!url.pathname.startsWith(`/v2/${reg.repo}/referrers/`)) return false;
      pages++;
      res.writeHead(200, { 'content-type': MediaType.ociIndex, link: `<${url.pathname}?page=${pages}>; rel="next"` });
      res.end(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociIndex,
          manifests: [{ mediaType: MediaType.ociManifest, digest: unrelated.digest, size: unrelated.size, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }],
        }),
      );
      return true;
    };
    expectViolation(await verify(reg, ['--policy', policy]), reg, 'signature.missing');
    expect(pages).toBeGreaterThan(0);
    expect(pages).toBeLessThanOrEqual(3 * 64); // per digest looked at, at most the page limit
  });

  it("referrers that point at another subject, carrying that image's valid signature: ignored (signature.missing)", async () => {
    const reg = await registry();
    const policy = signedPolicy(reg);
    const other = buildImage({ seed: 'other', created: '2026-11-01T00:00:00Z' });
    reg.putManifest(other.bytes, other.mediaType);
    const subject = { mediaType: other.mediaType, digest: other.digest, size: other.size };
    const sig = reg.putManifest(reg.signatureManifest(other.digest, { subject }), MediaType.ociManifest);
    const listing = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [{ mediaType: MediaType.ociManifest, digest: sig, size: reg.manifests.get(sig)!.bytes.length }] };
    reg.fault = (req, res) => {
      if (!new URL(req.url!, reg.url).pathname.startsWith(`/v2/${reg.repo}/referrers/`)) return false;
      res.writeHead(200, { 'content-type': MediaType.ociIndex }).end(JSON.stringify(listing));
      return true;
    };
    expectViolation(await verify(reg, ['--policy', policy]), reg, 'signature.missing');
  });

  it('a fallback referrers tag listing a signature of another image: ignored (signature.missing)', async () => {
    const reg = await registry();
    const policy = signedPolicy(reg);
    const other = buildImage({ seed: 'other2', created: '2026-11-01T00:00:00Z' });
    const subject = { mediaType: other.mediaType, digest: other.digest, size: other.size };
    // The replayed signature even claims our image as its subject; what it signs is the other one.
    const sig = reg.putManifest(reg.signatureManifest(other.digest, { subject: { mediaType: reg.image.mediaType, digest: reg.image.digest, size: reg.image.size } }), MediaType.ociManifest);
    const sig2 = reg.putManifest(reg.signatureManifest(other.digest, { subject }), MediaType.ociManifest);
    const entry = (d: string) => ({ mediaType: MediaType.ociManifest, digest: d, size: reg.manifests.get(d)!.bytes.length });
    reg.putManifest({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [entry(sig), entry(sig2)] }, MediaType.ociIndex, reg.image.digest.replace(':', '-'));
    const img = expectViolation(await verify(reg, ['--policy', policy]), reg, 'signature.missing', 'signature.digest_mismatch');
    expect(img.digest).toBe(reg.image.digest);
  });

  it('a referrers response that is not an index does not count as signatures, and is no pass', async () => {
    const reg = await registry();
    const policy = signedPolicy(reg);
    reg.fault = (req, res) => {
      if (!new URL(req.url!, reg.url).pathname.startsWith(`/v2/${reg.repo}/referrers/`)) return false;
      res.writeHead(200, { 'content-type': MediaType.ociIndex }).end('{"schemaVersion":2,"manifests":');
      return true;
    };
    expectViolation(await verify(reg, ['--policy', policy]), reg, 'signature.missing');
  });
});

describe('drift against a hostile registry', () => {
  /** Records the honest tag in a fresh ledger and returns its path. */
  async function recorded(reg: HostileRegistry): Promise<string> {
    const ledger = join(mkdtempSync(join(dir, 'ledger-')), 'ledger.jsonl');
    const r = await runCli(['record', reg.ref, '--ledger', ledger], { env: env() });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(ledger, 'utf8')).toContain(reg.image.digest);
    return ledger;
  }
  const drift = (ledger: string) => runCli(['drift', '--ledger', ledger, '--format', 'json', '--quiet', '--timeout', '5'], { env: env() });
  interface DriftOut {
    drift: Array<{ ref: string; kind: string; observed: string }>;
    errors: Array<{ ref: string; kind: string; message: string }>;
    exitCode: number;
  }
  const parseDrift = (r: CliResult) => JSON.parse(r.stdout) as DriftOut;

  function moveTag(reg: HostileRegistry): string {
    const moved = buildImage({ seed: 'moved', created: '2026-11-03T00:00:00Z' });
    for (const m of moved.manifestsInOrder) reg.putManifest(m.bytes, m.mediaType);
    reg.tags.set(reg.tag, moved.digest);
    return moved.digest;
  }

  it('an honest move is drift (exit 1), observed by a conditional GET', async () => {
    const reg = await registry();
    const ledger = await recorded(reg);
    const moved = moveTag(reg);
    const r = await drift(ledger);
    noCrash(r);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(parseDrift(r).drift).toEqual([expect.objectContaining({ ref: reg.ref, kind: 'overwritten', observed: moved })]);
    expect(reg.requests.at(-1)!.headers['if-none-match']).toBe(`"${reg.image.digest}"`);
  });

  it('HEAD says the recorded digest, GET serves another: the served digest is drift, never "unchanged"', async () => {
    const reg = await registry();
    const ledger = await recorded(reg);
    const moved = moveTag(reg);
    reg.fault = (req, res) => {
      if (req.method !== 'HEAD' || !isPath(req, reg, `manifests/${reg.tag}`)) return false;
      res.writeHead(200, { 'content-type': reg.image.mediaType, 'docker-content-digest': reg.image.digest, 'content-length': reg.image.bytes.length }).end();
      return true;
    };
    const r = await drift(ledger);
    noCrash(r);
    expect(r.code).toBe(1);
    expect(parseDrift(r).drift[0]).toMatchObject({ ref: reg.ref, kind: 'overwritten', observed: moved });
  });

  it('a 200 whose Docker-Content-Digest claims the recorded digest over other bytes: exit 3', async () => {
    const reg = await registry();
    const ledger = await recorded(reg);
    const moved = buildImage({ seed: 'moved-lie', created: '2026-11-03T00:00:00Z' });
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      res.writeHead(200, { 'content-type': moved.mediaType, 'docker-content-digest': reg.image.digest }).end(moved.bytes);
      return true;
    };
    const r = await drift(ledger);
    noCrash(r);
    expect(r.code).toBe(3);
    const out = parseDrift(r);
    expect(out.errors).toEqual([expect.objectContaining({ ref: reg.ref, kind: 'digest_mismatch' })]);
    expect(out.errors[0]!.message).toContain(reg.host);
  });

  it('a 304 that names another digest than the one asked about: exit 3, not "unchanged"', async () => {
    const reg = await registry();
    const ledger = await recorded(reg);
    const moved = moveTag(reg);
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`) || !req.headers['if-none-match']) return false;
      res.writeHead(304, { 'docker-content-digest': moved, etag: `"${moved}"` }).end();
      return true;
    };
    const r = await drift(ledger);
    noCrash(r);
    expect(r.code, r.stdout).toBe(3);
    const out = parseDrift(r);
    expect(out.errors).toEqual([expect.objectContaining({ ref: reg.ref, kind: 'protocol' })]);
    expect(out.errors[0]!.message).toMatch(/304/);
  });

  it('a 304 to a request that asked nothing conditional: exit 3', async () => {
    const reg = await registry();
    const r0 = await verify(reg);
    expect(r0.code).toBe(0);
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      res.writeHead(304).end();
      return true;
    };
    expectUnverified(await verify(reg), reg, 'registry', /304/);
  });

  it('a 429 storm during drift: bounded, exit 3, the tag named', async () => {
    const reg = await registry();
    const ledger = await recorded(reg);
    const before = manifestsOf(reg, reg.tag);
    reg.fault = (req, res) => {
      if (!isPath(req, reg, `manifests/${reg.tag}`)) return false;
      res.writeHead(429, { 'retry-after': '0' }).end();
      return true;
    };
    const r = await drift(ledger);
    noCrash(r);
    expect(r.code).toBe(3);
    expect(parseDrift(r).errors).toEqual([expect.objectContaining({ ref: reg.ref })]);
    expect(manifestsOf(reg, reg.tag) - before).toBe(4);
  });
});

it('sha256 of the helper agrees with the image builder', () => {
  expect(sha256('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

describe('a Kamal app whose registries misbehave', () => {
  it('app blobs behind a CDN redirect and an accessory registry in a 429 storm: exit 3 naming the accessory, the password never leaves the registry', async () => {
    const password = 'kamal-registry-password-9f8e';
    const appReg = await registry({ repo: 'shop', basic: { username: 'deployer', password } });
    const cdn = await plainServer((req, res) => {
      const digest = new URL(req.url!, 'http://x').pathname.slice('/cdn/'.length);
      const body = appReg.blobs.get(digest);
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    appReg.fault = (req, res) => {
      const m = /^\/v2\/shop\/blobs\/(sha256:[0-9a-f]{64})$/.exec(new URL(req.url!, appReg.url).pathname);
      if (!m || req.headers.authorization !== appReg.basicAuth) return false;
      res.writeHead(302, { location: `${cdn.url}/cdn/${m[1]}` }).end();
      return true;
    };
    const dbReg = await registry({ repo: 'postgres', tag: '16.4' });
    dbReg.fault = (req, res) => (isPath(req, dbReg, 'manifests/16.4') ? (res.writeHead(429, { 'retry-after': '0' }).end(), true) : false);
    const app = mkdtempSync(join(dir, 'kamal-'));
    mkdirSync(join(app, 'config'));
    mkdirSync(join(app, '.kamal'));
    writeFileSync(join(app, '.kamal', 'secrets'), 'KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD\n');
    writeFileSync(
      join(app, 'config', 'deploy.yml'),
      [
        'service: shop',
        'image: shop',
        'servers:',
        '  web:',
        '    - 192.0.2.10',
        'registry:',
        `  server: ${appReg.host}`,
        '  username: deployer',
        '  password:',
        '    - KAMAL_REGISTRY_PASSWORD',
        'builder:',
        '  arch: amd64',
        'accessories:',
        '  db:',
        `    image: ${dbReg.host}/postgres:16.4`,
        '    host: 192.0.2.10',
        '',
      ].join('\n'),
    );
    const r = await runCli(['verify', '--version', 'v1', '--no-ledger', '--format', 'json', '--quiet'], { cwd: app, env: { ...env(), KAMAL_REGISTRY_PASSWORD: password } });
    noCrash(r);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const out = parse(r);
    const shop = out.images.find((i) => i.ref === `${appReg.host}/shop:v1`)!;
    expect(shop).toMatchObject({ status: 'pinned', digest: appReg.image.digest });
    const db = out.images.find((i) => i.ref === dbReg.ref)!;
    expect(db.status).toBe('error');
    expect(db.error!.message).toMatch(new RegExp(`${dbReg.host}.*rate limiting`));
    expect(manifestsOf(dbReg, '16.4')).toBe(4);
    expect(cdn.requests.length).toBeGreaterThan(0);
    for (const q of cdn.requests) expect(q.headers.authorization).toBeUndefined();
    expect(r.stdout + r.stderr).not.toContain(password);
  });
});

describe('the tag list (read by the base-image age check)', () => {
  it('a tag list that is JSON null is a protocol error naming the repository, not a crash', async () => {
    const { RegistryClient } = await import('../../src/registry/client.js');
    const { ProtocolError } = await import('../../src/errors.js');
    const reg = await registry();
    reg.fault = (req, res) => (isPath(req, reg, 'tags/list') ? (res.writeHead(200, { 'content-type': 'application/json' }).end('null'), true) : false);
    const client = new RegistryClient();
    try {
      const err = await client.listTags({ registry: reg.host, repository: reg.repo }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as Error).message).toContain(`${reg.host}: tag list for ${reg.repo}`);
    } finally {
      await client.close();
    }
  });
});
