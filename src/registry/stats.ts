/** Requests, bytes and time per registry, for `--stats` and the benchmarks. */
export interface RegistryStats {
  requests: number;
  bytes: number;
  ms: number;
  /** Manifests and blobs read from the on-disk cache instead of the registry (no request made). */
  cacheHits: number;
}

const empty = (): RegistryStats => ({ requests: 0, bytes: 0, ms: 0, cacheHits: 0 });

export class Stats {
  private readonly byRegistry = new Map<string, RegistryStats>();

  private of(registry: string): RegistryStats {
    let s = this.byRegistry.get(registry);
    if (!s) this.byRegistry.set(registry, (s = empty()));
    return s;
  }

  record(registry: string, bytes: number, ms: number): void {
    const s = this.of(registry);
    s.requests++;
    s.bytes += bytes;
    s.ms += ms;
  }

  /** Content served from the on-disk cache for this registry. */
  cacheHit(registry: string): void {
    this.of(registry).cacheHits++;
  }

  /** A copy of the figures so far for one registry. */
  get(registry: string): RegistryStats {
    return { ...(this.byRegistry.get(registry) ?? empty()) };
  }

  entries(): Array<[string, RegistryStats]> {
    return [...this.byRegistry.entries()].map(([k, v]): [string, RegistryStats] => [k, { ...v }]).sort(([a], [b]) => a.localeCompare(b));
  }

  total(): RegistryStats {
    const t = empty();
    for (const s of this.byRegistry.values()) {
      t.cacheHits += s.cacheHits;
      t.requests += s.requests;
      t.bytes += s.bytes;
      t.ms += s.ms;
    }
    return t;
  }
}
