/**
 * `kamal-gate drift --format json`: one drift round over the ledger (one document per round; with
 * --watch one line per round). Versioned by `schema`, bumped on any incompatible change.
 */
import type { DriftItem } from '../drift/run.js';
import type { HostsDrift } from '../hosts/drift-hosts.js';
import { toolInfo, type VerifyReport } from './model.js';

const DRIFT_SCHEMA = 'kamal-gate/drift/v1';

export interface DriftSummary {
  tags: number;
  unchanged: number;
  overwritten: number;
  rolledBack: number;
  deleted: number;
  /** Base image tags observed (never drift). */
  baseTags: number;
  baseMoved: number;
  forgotten: number;
  errors: number;
}

export interface DriftReport {
  schema: typeof DRIFT_SCHEMA;
  tool: VerifyReport['tool'];
  ledger: string;
  /** `INDEX/COUNT`, with --shard. */
  shard?: string;
  summary: DriftSummary;
  drift: Array<{ ref: string; kind: DriftItem['kind']; observed?: string | null; approved?: string; approvedFirstSeen?: string; observedFirstSeen?: string }>;
  baseMoved: Array<{ ref: string; observed?: string | null; previous?: string }>;
  errors: Array<{ ref: string; kind: string; message: string }>;
  entriesWritten: number;
  /** With --hosts: what each host runs, against the ledger. */
  hosts?: HostsSection;
  /** With --stats. */
  stats?: { requests: number; wallMs: number };
  exitCode: number;
}

/** `hosts` in drift JSON: each host's containers of the service, and a finding per unapproved one. */
interface HostsSection {
  summary: { hosts: number; containers: number; unapproved: number; failed: number };
  hosts: Array<{
    host: string;
    ms: number;
    error?: string;
    containers: Array<{ name: string; id: string; role?: string; image: string; imageId: string; pulled?: string; approved?: string; approvedImage: boolean }>;
  }>;
  findings: Array<{ rule: 'host.unapproved_image'; severity: 'critical'; host: string; container: string; image: string; imageId: string; pulled?: string; approved?: string; message: string }>;
}

function hostsSection(h: HostsDrift): HostsSection {
  return {
    summary: { hosts: h.hosts.length, containers: h.hosts.reduce((n, x) => n + x.containers.length, 0), unapproved: h.unapproved.length, failed: h.failed.length },
    hosts: h.hosts.map((x) => ({
      host: x.host,
      ms: x.ms,
      ...(x.error !== undefined ? { error: x.error } : {}),
      containers: x.containers.map((c) => ({
        name: c.name,
        id: c.id,
        ...(c.role ? { role: c.role } : {}),
        image: c.image,
        imageId: c.imageId,
        ...(c.pulled ? { pulled: c.pulled } : {}),
        ...(c.approved ? { approved: c.approved } : {}),
        approvedImage: c.ok,
      })),
    })),
    findings: h.unapproved.map((c) => ({
      rule: 'host.unapproved_image',
      severity: 'critical',
      host: c.host,
      container: c.name,
      image: c.image,
      imageId: c.imageId,
      ...(c.pulled ? { pulled: c.pulled } : {}),
      ...(c.approved ? { approved: c.approved } : {}),
      message: `host ${c.host}: container ${c.name} ${c.reason ?? 'runs an unapproved image'}`,
    })),
  };
}

export interface DriftRound {
  ledger: string;
  shard?: { index: number; count: number };
  summary: DriftSummary;
  /** Tags that drifted (overwritten, rolled back, deleted). */
  drifted: readonly DriftItem[];
  /** Base tags upstream moved. */
  baseMoved: readonly DriftItem[];
  /** Tags that could not be checked (each with its `error`). */
  errors: readonly DriftItem[];
  entriesWritten: number;
  hosts?: HostsDrift;
  stats?: { requests: number; wallMs: number };
  exitCode: number;
}

export function driftReport(r: DriftRound): DriftReport {
  return {
    schema: DRIFT_SCHEMA,
    tool: toolInfo(),
    ledger: r.ledger,
    ...(r.shard ? { shard: `${r.shard.index}/${r.shard.count}` } : {}),
    summary: r.summary,
    drift: r.drifted.map((i) => ({ ref: i.ref, kind: i.kind, observed: i.observed, approved: i.approved, approvedFirstSeen: i.approvedFirstSeen, observedFirstSeen: i.observedFirstSeen })),
    baseMoved: r.baseMoved.map((i) => ({ ref: i.ref, observed: i.observed, previous: i.approved })),
    errors: r.errors.map((i) => ({ ref: i.ref, kind: i.error!.kind, message: i.error!.message })),
    entriesWritten: r.entriesWritten,
    ...(r.hosts ? { hosts: hostsSection(r.hosts) } : {}),
    stats: r.stats,
    exitCode: r.exitCode,
  };
}
