/** Requests, bytes and time per registry, for `--stats` and the benchmarks. */
export interface RegistryStats {
  requests: number;
  bytes: number;
  ms: number;
}

export class Stats {
  private readonly byRegistry = new Map<string, RegistryStats>();

  record(registry: string, bytes: number, ms: number): void {
    let s = this.byRegistry.get(registry);
    if (!s) this.byRegistry.set(registry, (s = { requests: 0, bytes: 0, ms: 0 }));
    s.requests++;
    s.bytes += bytes;
    s.ms += ms;
  }

  /** A copy of the figures so far for one registry. */
  get(registry: string): RegistryStats {
    return { ...(this.byRegistry.get(registry) ?? { requests: 0, bytes: 0, ms: 0 }) };
  }

  entries(): Array<[string, RegistryStats]> {
    return [...this.byRegistry.entries()].map(([k, v]): [string, RegistryStats] => [k, { ...v }]).sort(([a], [b]) => a.localeCompare(b));
  }

  total(): RegistryStats {
    const t = { requests: 0, bytes: 0, ms: 0 };
    for (const s of this.byRegistry.values()) {
      t.requests += s.requests;
      t.bytes += s.bytes;
      t.ms += s.ms;
    }
    return t;
  }
}
