/**
 * The one de-duplication helper of the registry client: concurrent calls with the same key share one
 * promise. `SingleFlight` frees a key once its promise settles (content fetched by digest);
 * `Snapshot` keeps every answer while a run is open (what tags pointed to during one verify run).
 */

export class SingleFlight {
  private readonly flights = new Map<string, Promise<unknown>>();

  /** With `keep`, a settled answer stays for later callers; without, the key is free once it settles. */
  constructor(private readonly keep = false) {}

  /** Runs `f` once for every caller with the same key while its answer is held. */
  run<T>(key: string, f: () => Promise<T>): Promise<T> {
    let p = this.flights.get(key) as Promise<T> | undefined;
    if (!p) {
      p = this.keep ? f() : f().finally(() => this.flights.delete(key));
      this.flights.set(key, p);
    }
    return p;
  }
}

/**
 * While a verify run is under way (begin … end): one answer per key, so several images on one base
 * ask about the base tag once. One run's verdict is one observation of the registry; a long-lived
 * client (drift --watch) never snapshots, and nothing about a tag is kept beyond the run.
 */
export class Snapshot {
  private flights?: SingleFlight;

  begin(): void {
    this.flights = new SingleFlight(true);
  }

  end(): void {
    this.flights = undefined;
  }

  /** `f`'s answer, shared with every caller of the same key while the snapshot is open. */
  run<T>(key: string, f: () => Promise<T>): Promise<T> {
    return this.flights ? this.flights.run(key, f) : f();
  }
}
