/**
 * One drift round (src/drift/run.ts) over two real registries, one open and one behind token auth:
 * the ledger read once gives every tag the history `Ledger.history()` gives it (config approvals and
 * base observations included as they are), each registry is worked in its own bounded queue and the
 * items come back in ledger order, a token is asked for once per registry and scope set, and a token
 * that expires mid-round is fetched again instead of failing the round (once for all the requests
 * in flight, also when the registry is the one that turns it down).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerTags, runDrift } from '../src/drift/run.js';
import { openLedger } from '../src/ledger/index.js';
import { readTag } from '../src/ledger/observe.js';
import { CONFIG_REGISTRY, type Ledger, type NewEntry } from '../src/ledger/types.js';
import { RegistryClient } from '../src/registry/client.js';
import { basicCredential, StaticCredentials } from '../src/registry/credentials.js';
import type { Repo } from '../src/registry/types.js';
import { fakeImage, honest, startFakeServer } from './helpers/fake-registry.js';
import { ImageBuilder, type PushedImage } from './helpers/image-builder.js';
import { startRegistry, type TestRegistry } from './helpers/registry.js';

const OTHER = `sha256:${'e'.repeat(64)}`;

function clientFor(reg: TestRegistry): RegistryClient {
  const creds = new StaticCredentials();
  creds.set(reg.host, basicCredential(reg.username, reg.password, 'test'));
  return new RegistryClient({ credentials: creds });
}

/** A client whose tag lookups at `registry` wait `ms` before each one after the first: time passes mid-round. */
class SlowClient extends RegistryClient {
  private calls = 0;
  constructor(
    credentials: StaticCredentials,
    private readonly registry: string,
    private readonly ms: number,
  ) {
    super({ credentials });
  }
  override async tagDigest(repo: Repo, tag: string, known?: string): Promise<string> {
    if (repo.registry === this.registry && this.calls++ > 0) await new Promise((r) => setTimeout(r, this.ms));
    return super.tagDigest(repo, tag, known);
  }
}

describe('drift round over an open and a token registry', () => {
  let open: TestRegistry;
  let tokened: TestRegistry;
  let dir: string;
  let ledger: Ledger;
  let a: PushedImage;
  let b: PushedImage;
  let c: PushedImage;
  let moved: PushedImage;

  beforeAll(async () => {
    // Tokens live 2 s; the client renews one a second before it expires, so 1.5 s between two tags is past it.
    [open, tokened] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'token', tokenTtlSeconds: 2 })]);
    const ob = new ImageBuilder(open);
    const tb = new ImageBuilder(tokened);
    a = await ob.pushImage('team/a', 'v1', { seed: 'a' });
    await ob.pushManifest('team/a', 'v2', a.bytes, a.mediaType);
    moved = await ob.pushImage('team/a', 'v3', { seed: 'moved' });
    b = await tb.pushImage('team/b', 'v1', { seed: 'b' });
    c = await tb.pushImage('team/c', 'v1', { seed: 'c' });
    await tb.pushManifest('team/c', 'old', c.bytes, c.mediaType);
    dir = mkdtempSync(join(tmpdir(), 'kg-drift-run-'));
    ledger = await openLedger(join(dir, 'ledger.jsonl'));
    const rec = (reg: TestRegistry, repository: string, tag: string, digest: string): NewEntry => ({ registry: reg.host, repository, tag, digest, event: 'recorded', source: 'record' });
    // Registries interleaved in the ledger; a config approval (not a tag) and a base observation among them.
    await ledger.append([
      rec(open, 'team/a', 'v1', a.digest),
      rec(tokened, 'team/b', 'v1', b.digest),
      { registry: CONFIG_REGISTRY, repository: 'shop', tag: 'default', digest: `sha256:${'c'.repeat(64)}`, event: 'config-approved', source: 'record', config: { version: 'v1', document: {} } },
      rec(open, 'team/a', 'v3', a.digest),
      rec(tokened, 'team/c', 'v1', c.digest),
      { registry: open.host, repository: 'team/a', tag: 'v2', digest: a.digest, event: 'observed', source: 'verify', role: 'base' },
      rec(tokened, 'team/c', 'old', c.digest),
    ]);
    // team/c:old was approved again at another digest: pointing at c now is a roll-back.
    await ledger.append([{ registry: tokened.host, repository: 'team/c', tag: 'old', digest: OTHER, event: 'approved', source: 'record' }]);
  });
  afterAll(async () => {
    await ledger?.close();
    await Promise.all([open?.stop(), tokened?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads the ledger once into the same tags and histories as tags() and history()', async () => {
    const once = await ledgerTags(ledger);
    expect(once.map((t) => t.tag)).toEqual(await ledger.tags());
    for (const t of once) expect(t).toEqual(await readTag(ledger, t.tag));
    expect(once.some((t) => t.tag.registry === CONFIG_REGISTRY)).toBe(false);
  });

  it('finds what drifted on both registries, in ledger order, with one token', async () => {
    tokened.tokenServer!.reset();
    const client = clientFor(tokened);
    try {
      const r = await runDrift(ledger, client, { concurrency: 2 });
      expect(r.items.map((i) => i.tag)).toEqual(await ledger.tags());
      expect(r.items.map((i) => [i.ref, i.kind, i.error?.message])).toEqual([
        [`${open.host}/team/a:v1`, 'same', undefined],
        [`${tokened.host}/team/b:v1`, 'same', undefined],
        [`${open.host}/team/a:v3`, 'overwritten', undefined],
        [`${tokened.host}/team/c:v1`, 'same', undefined],
        [`${open.host}/team/a:v2`, 'base_same', undefined],
        [`${tokened.host}/team/c:old`, 'rolled_back', undefined],
      ]);
      expect(r.items.find((i) => i.kind === 'overwritten')!.observed).toBe(moved.digest);
      // both repositories of the token registry in one token
      expect(tokened.tokenServer!.requests).toBe(1);
      expect([...tokened.tokenServer!.log[0]!.scopes].sort()).toEqual(['repository:team/b:pull', 'repository:team/c:pull']);
    } finally {
      await client.close();
    }
  });

  it('fetches a new token when the one in use expires mid-round, and the round still succeeds', async () => {
    tokened.tokenServer!.reset();
    const creds = new StaticCredentials();
    creds.set(tokened.host, basicCredential(tokened.username, tokened.password, 'test'));
    const client = new SlowClient(creds, tokened.host, 1_500);
    try {
      const r = await runDrift(ledger, client, { concurrency: 1 });
      expect(r.items.filter((i) => i.error)).toEqual([]);
      expect(r.items.filter((i) => i.tag.registry === tokened.host).map((i) => i.kind)).toEqual(['same', 'same', 'rolled_back']);
      // one token per 1.5 s wait: the first, then a fresh one for each of the two later tags
      expect(tokened.tokenServer!.requests).toBe(3);
      expect(tokened.tokenServer!.log.every((l) => l.status === 200)).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('renews an expired token once for all the requests in flight at that registry', async () => {
    tokened.tokenServer!.reset();
    const creds = new StaticCredentials();
    creds.set(tokened.host, basicCredential(tokened.username, tokened.password, 'test'));
    // the first tag gets a token; the other two wait past its expiry side by side, then share one new token
    const client = new SlowClient(creds, tokened.host, 1_500);
    try {
      const r = await runDrift(ledger, client, { concurrency: 3 });
      expect(r.items.filter((i) => i.error)).toEqual([]);
      expect(r.items.filter((i) => i.tag.registry === tokened.host).map((i) => i.kind)).toEqual(['same', 'same', 'rolled_back']);
      expect(tokened.tokenServer!.requests).toBe(2);
    } finally {
      await client.close();
    }
  });
});

describe('a token the registry turns down while many requests are in flight', () => {
  it('is renewed once, not once per refused request', async () => {
    const img = fakeImage();
    const inner = honest('app', 'v1', img);
    let issued = 0;
    const valid = new Set<string>();
    // the token service on its own origin, as registries have it: renewing never waits behind the registry's queue
    const tokens = await startFakeServer((_req, res) => {
      const token = `tok-${++issued}`;
      valid.add(token);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
    });
    const server = await startFakeServer((req, res, body) => {
      const auth = req.headers.authorization ?? '';
      if (!valid.has(auth.replace(/^Bearer /, ''))) {
        return void res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="fake",error="invalid_token"` }).end();
      }
      return inner(req, res, body);
    });
    const client = new RegistryClient({ http: { connectionsPerOrigin: 4 } });
    try {
      const repo = { registry: server.host, repository: 'app' };
      expect(await client.tagDigest(repo, 'v1', img.manifestDigest)).toBe(img.manifestDigest);
      expect(issued).toBe(1);
      // the registry stops taking the token it gave (revoked, or expired before its expires_in said)
      valid.clear();
      const digests = await Promise.all(Array.from({ length: 24 }, () => client.tagDigest(repo, 'v1', img.manifestDigest)));
      expect(new Set(digests)).toEqual(new Set([img.manifestDigest]));
      expect(issued).toBe(2);
    } finally {
      await client.close();
      await Promise.all([server.stop(), tokens.stop()]);
    }
  });
});
