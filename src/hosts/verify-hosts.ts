/**
 * `verify --hosts` for one run: every host's `docker image inspect` of every image it must hold, in
 * one SSH session per host (one script, inspect.ts), hosts in parallel with a bound, computed once
 * when the first image asks and then read by each image's check (checks/hosts.ts). What each image
 * found per host is kept for the report (HOSTS section, `hosts` in JSON) and each host's SSH time
 * for `--stats`.
 */
import { isKamalGateError } from '../errors.js';
import { mapConcurrent } from '../map-concurrent.js';
import type { Target } from '../types.js';
import { inspectScript, parseInspect, type HeldImage } from './inspect.js';
import { HostError } from './ssh.js';
import type { ImageHosts } from './targets.js';

/** Runs one script on one host over one connection; throws HostError when the host cannot be reached. */
export type HostScriptRunner = (host: string, script: string) => Promise<{ code: number; stdout: string; stderr: string }>;

/** One host's answer for one image: what it holds, or why it could not be asked. */
export type HostAnswer = { host: string; held: HeldImage } | { host: string; error: string };

/** What the report shows of one host for one image. */
export interface HostImageReport {
  host: string;
  status: 'pass' | 'mismatch' | 'missing' | 'error';
  /** The image's Id on the host. */
  id?: string;
  /** The digests of the image's repository RepoDigests names. */
  repoDigests?: string[];
  error?: string;
}

/** One host's SSH session, for `--stats`. */
export interface HostSession {
  host: string;
  ms: number;
  images: number;
  error?: string;
}

export interface HostsRunOptions {
  /** Hosts asked at once (default 32). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  /** `kamal rollback` (KAMAL_COMMAND=rollback): hosts must hold the ledger's approved digest of the tag. */
  rollback?: boolean;
}

export class HostsRun {
  private sessions?: Promise<Map<string, { held?: HeldImage[]; refs: string[]; error?: string }>>;
  private readonly times: HostSession[] = [];
  private readonly reports = new Map<Target, HostImageReport[]>();
  /** Whether this run checks a `kamal rollback`. */
  readonly rollback: boolean;

  constructor(
    private readonly plan: readonly ImageHosts[],
    private readonly run: HostScriptRunner,
    private readonly opts: HostsRunOptions = {},
  ) {
    this.rollback = opts.rollback ?? false;
  }

  /** Every host of `target`, with what it holds under the target's reference. */
  async answersFor(target: Target): Promise<HostAnswer[]> {
    const hosts = this.plan.find((p) => p.target === target)?.hosts ?? [];
    const sessions = await (this.sessions ??= this.start());
    return hosts.map((host): HostAnswer => {
      const s = sessions.get(host)!;
      if (s.error !== undefined) return { host, error: s.error };
      return { host, held: s.held![s.refs.indexOf(target.ref)]! };
    });
  }

  /** Keeps what the check found of `target` on its hosts, for the report. */
  record(target: Target, hosts: HostImageReport[]): void {
    this.reports.set(target, hosts);
  }

  /** What the check found of `target` on its hosts; undefined when it was not checked on hosts. */
  reportFor(target: Target): HostImageReport[] | undefined {
    return this.reports.get(target);
  }

  /** Each host's SSH session, in the order the hosts are written. */
  get sessionTimes(): HostSession[] {
    return [...this.times];
  }

  private async start(): Promise<Map<string, { held?: HeldImage[]; refs: string[]; error?: string }>> {
    const byHost = new Map<string, string[]>();
    for (const { target, hosts } of this.plan) {
      for (const h of hosts) {
        const refs = byHost.get(h) ?? [];
        if (!refs.includes(target.ref)) refs.push(target.ref);
        byHost.set(h, refs);
      }
    }
    const hosts = [...byHost.keys()];
    const done = await mapConcurrent(
      hosts,
      this.opts.concurrency ?? 32,
      async (host) => {
        const refs = byHost.get(host)!;
        const started = performance.now();
        try {
          const r = await this.run(host, inspectScript(refs));
          const held = parseInspect(host, refs, r.stdout);
          return { host, refs, held, ms: performance.now() - started };
        } catch (e) {
          if (isKamalGateError(e) && !(e instanceof HostError)) throw e;
          return { host, refs, error: e instanceof Error ? e.message : String(e), ms: performance.now() - started };
        }
      },
      this.opts.onProgress,
    );
    for (const d of done) this.times.push({ host: d.host, ms: Math.round(d.ms), images: d.refs.length, ...(d.error !== undefined ? { error: d.error } : {}) });
    return new Map(done.map((d) => [d.host, d]));
  }
}
