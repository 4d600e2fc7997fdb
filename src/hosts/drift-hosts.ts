/**
 * `drift --hosts` over every host: one script per host (one SSH connection), hosts in parallel with a
 * bound, each host's containers held against the ledger (running.ts). A host that cannot be reached
 * or whose docker refuses is reported with its error (exit 3), never skipped silently.
 */
import type { Ledger, TagRef } from '../ledger/types.js';
import { readTag } from '../ledger/observe.js';
import { formatTagRef } from '../ledger/tag-ref.js';
import { mapConcurrent } from '../map-concurrent.js';
import { printable } from '../printable.js';
import { judgeRunning, parseRunning, runningScript, type JudgedContainer, type RunOnHost } from './running.js';

interface HostRunning {
  host: string;
  containers: JudgedContainer[];
  /** Why the host could not be checked. */
  error?: string;
  /** Wall time of the host's SSH session. */
  ms: number;
}

export interface HostsDrift {
  hosts: HostRunning[];
  /** Containers started from an image the ledger does not approve for their tag. */
  unapproved: JudgedContainer[];
  /** Hosts that could not be checked. */
  failed: HostRunning[];
}

export interface DriftHostsOptions {
  service: string;
  destination?: string;
  /** Hosts checked at once. */
  concurrency: number;
  onProgress?: (done: number, total: number) => void;
}

/** Reads what every host runs and holds it against the ledger's approvals. */
export async function driftHosts(hosts: readonly string[], run: RunOnHost, ledger: Ledger, opts: DriftHostsOptions): Promise<HostsDrift> {
  const script = runningScript(opts.service, opts.destination);
  const approvals = new Map<string, Promise<string | undefined>>();
  const approvedFor = (tag: TagRef): Promise<string | undefined> => {
    const key = formatTagRef(tag);
    let p = approvals.get(key);
    if (!p) approvals.set(key, (p = readTag(ledger, tag).then((t) => t.state.approved)));
    return p;
  };
  const results = await mapConcurrent(
    hosts,
    opts.concurrency,
    async (host): Promise<HostRunning> => {
      const started = performance.now();
      const ms = (): number => Math.round(performance.now() - started);
      let seen;
      try {
        const r = await run(host, script);
        if (r.code !== 0) return { host, containers: [], error: `docker on ${host} failed (exit ${r.code}): ${printable(r.stderr.trim() || r.stdout.trim(), 300)}`, ms: ms() };
        seen = parseRunning(host, r.stdout);
      } catch (e) {
        return { host, containers: [], error: e instanceof Error ? e.message : String(e), ms: ms() };
      }
      return { host, containers: await judgeRunning(host, seen, approvedFor), ms: ms() };
    },
    opts.onProgress,
  );
  return { hosts: results, unapproved: results.flatMap((h) => h.containers.filter((c) => !c.ok)), failed: results.filter((h) => h.error !== undefined) };
}
