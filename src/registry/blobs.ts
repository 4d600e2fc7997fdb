/**
 * The blobs endpoint: a blob by descriptor, size-checked and hashed against its digest, fetched once
 * per run however many lookups ask for it. Redirects to a CDN never carry credentials (http.ts).
 */
import { ProtocolError } from '../errors.js';
import type { Descriptor } from './oci.js';
import { fail, type RegistryApi } from './api.js';
import type { RunContent } from './content.js';
import { verifyDigest } from './digest.js';
import { SingleFlight } from './single-flight.js';
import type { Repo } from './types.js';

export class Blobs {
  /** Fetches under way, so concurrent lookups of the same blob make one request. */
  private readonly inflight = new SingleFlight();

  constructor(
    private readonly api: RegistryApi,
    private readonly content: RunContent,
  ) {}

  /** A blob by descriptor, size-checked and hashed. */
  get(repo: Repo, desc: Descriptor, maxBytes: number): Promise<Buffer> {
    return this.inflight.run(`b|${repo.registry}/${repo.repository}|${desc.digest}|${desc.size}`, () => this.fetch(repo, desc, maxBytes));
  }

  private async fetch(repo: Repo, desc: Descriptor, maxBytes: number): Promise<Buffer> {
    const what = `${repo.registry}/${repo.repository}@${desc.digest}`;
    if (desc.size > maxBytes) {
      throw new ProtocolError(`${what}: blob is ${desc.size} bytes, over the ${maxBytes}-byte limit`, repo.registry);
    }
    const cached = this.content.inMemory(desc.digest) ?? (await this.content.fromDisk(repo, desc.digest));
    if (cached) {
      if (cached.length !== desc.size) {
        throw new ProtocolError(`${what}: blob is ${cached.length} bytes but its descriptor says ${desc.size}`, repo.registry);
      }
      return cached;
    }
    const res = await this.api.request(repo, 'GET', `blobs/${desc.digest}`, { maxBytes });
    if (res.status !== 200) fail(res, repo, what);
    if (res.body.length !== desc.size) {
      throw new ProtocolError(`${what}: blob is ${res.body.length} bytes but its descriptor says ${desc.size}`, repo.registry);
    }
    verifyDigest(res.body, desc.digest, what, repo.registry);
    this.content.put(desc.digest, res.body);
    return res.body;
  }
}
