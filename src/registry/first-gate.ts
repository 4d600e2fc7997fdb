/**
 * "The first request goes alone": the first call per key (a registry) runs by itself, callers that
 * arrive while it is under way wait for it, and once it has settled (answered or failed) every call
 * goes straight through in parallel. The first request to a registry learns whether and how it wants
 * credentials, so concurrent requests do not each pay a 401; the first referrers lookup learns
 * whether the registry has the API at all.
 */
export class FirstGate {
  private readonly first = new Map<string, Promise<void>>();
  private readonly done = new Set<string>();

  async run<T>(key: string, f: () => Promise<T>): Promise<T> {
    if (this.done.has(key)) return f();
    const under = this.first.get(key);
    if (under) {
      await under;
      return f();
    }
    let end!: () => void;
    this.first.set(key, new Promise<void>((resolve) => (end = resolve)));
    try {
      return await f();
    } finally {
      this.done.add(key);
      this.first.delete(key);
      end();
    }
  }
}
