/**
 * `kamal-gate drift --watch`: rounds on an interval until stopped, a Prometheus endpoint
 * (`--metrics`), and a Slack-compatible webhook when a round finds drift (`--webhook`, also without
 * --watch). One round itself is run.ts; this file only repeats it and reports on it.
 */
import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { UsageError } from '../errors.js';
import { redact, registerSecret } from '../redact.js';
import type { DriftItem } from './run.js';

/** `15m`, `1h`, `30s`, `2d`: at least one second. */
export function parseInterval(text: string): number {
  const m = /^([0-9]+)(s|m|h|d)$/.exec(text.trim());
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  const ms = m ? Number(m[1]) * unit[m[2] as keyof typeof unit] : NaN;
  if (!m || ms < 1_000 || ms > 7 * 86_400_000) throw new UsageError(`--interval: "${text}" is not a duration from 1s to 7d (e.g. 30s, 15m, 1h)`);
  return ms;
}

export interface RoundFigures {
  /** Every tag the round checked (its registry and repository label the series). */
  items: readonly DriftItem[];
  drift: readonly DriftItem[];
  ms: number;
}

type Labels = Record<string, string>;

/** A label value in the Prometheus text format: backslash, quote and newline escaped. */
function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** Adds `n` to the series of `labels` in `series` (keyed by the label text). */
function add(series: Map<string, number>, labels: Labels, n: number): void {
  const key = labelText(labels);
  series.set(key, (series.get(key) ?? 0) + n);
}

const byRepository = (i: DriftItem): Labels => ({ registry: i.tag.registry, repository: i.tag.repository });

/**
 * Counters and gauges for `--metrics`, in the Prometheus text format. Per-tag figures carry
 * `registry` and `repository` labels; the last round's errors are a gauge per registry and repository
 * (0 when it answered), so a dead registry is alertable: `kamal_gate_drift_last_round_errors > 0`.
 */
export class DriftMetrics {
  rounds = 0;
  private readonly tagsChecked = new Map<string, number>();
  private readonly driftFound = new Map<string, number>();
  private readonly registryErrors = new Map<string, number>();
  private lastDrift = new Map<string, number>();
  private lastErrors = new Map<string, number>();
  private lastRoundSeconds = 0;
  private lastRoundTimestamp = 0;

  constructor(private readonly version: string) {}

  round(f: RoundFigures, now = Date.now()): void {
    this.rounds++;
    const lastDrift = new Map<string, number>();
    const lastErrors = new Map<string, number>();
    for (const i of f.items) {
      if (i.forgotten) continue;
      add(this.tagsChecked, byRepository(i), 1);
      add(lastDrift, byRepository(i), 0);
      add(lastErrors, byRepository(i), i.error ? 1 : 0);
      // Every series exists from the round that first saw its repository (at 0), so increase() works.
      add(this.registryErrors, byRepository(i), i.error ? 1 : 0);
      add(this.driftFound, byRepository(i), 0);
    }
    for (const i of f.drift) {
      add(this.driftFound, byRepository(i), 1);
      add(lastDrift, byRepository(i), 1);
    }
    this.lastDrift = lastDrift;
    this.lastErrors = lastErrors;
    this.lastRoundSeconds = f.ms / 1000;
    this.lastRoundTimestamp = now / 1000;
  }

  render(): string {
    const m = (name: string, type: string, help: string, values: Map<string, number> | number) => {
      const series = typeof values === 'number' ? [['', values] as const] : [...values].sort(([a], [b]) => a.localeCompare(b));
      return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${series.map(([labels, v]) => `${name}${labels} ${v}\n`).join('')}`;
    };
    return [
      m('kamal_gate_build_info', 'gauge', 'The kamal-gate version serving these metrics.', new Map([[labelText({ version: this.version }), 1]])),
      m('kamal_gate_drift_rounds_total', 'counter', 'Drift rounds completed.', this.rounds),
      m('kamal_gate_drift_tags_checked_total', 'counter', 'Tags re-resolved at their registry.', this.tagsChecked),
      m('kamal_gate_drift_found_total', 'counter', 'Tags found overwritten, rolled back or deleted, summed over rounds.', this.driftFound),
      m('kamal_gate_drift_registry_errors_total', 'counter', 'Tags that could not be checked, summed over rounds.', this.registryErrors),
      m('kamal_gate_drift_last_round_drift', 'gauge', 'Tags found drifted in the last completed round.', this.lastDrift),
      m('kamal_gate_drift_last_round_errors', 'gauge', 'Tags that could not be checked in the last completed round (registry unreachable, auth refused).', this.lastErrors),
      m('kamal_gate_drift_round_duration_seconds', 'gauge', 'Duration of the last completed round.', this.lastRoundSeconds),
      m('kamal_gate_drift_last_round_timestamp_seconds', 'gauge', 'When the last round completed (Unix time).', this.lastRoundTimestamp),
    ].join('');
  }
}

/** Serves `/metrics` on HOST:PORT (loopback unless the operator names another address). */
export async function serveMetrics(address: string, metrics: DriftMetrics): Promise<{ server: Server; url: string }> {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):([0-9]{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--metrics: "${address}" is not HOST:PORT (e.g. 127.0.0.1:9464)`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(metrics.render());
    } else if (req.method === 'GET' && path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('kamal-gate drift --watch: Prometheus metrics at /metrics\n');
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new UsageError(`--metrics: cannot listen on ${address}: ${e.message}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const actualPort = typeof bound === 'object' && bound ? bound.port : port;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}/metrics` };
}

/** The Slack-compatible message for a round that found drift. */
function webhookPayload(drifted: DriftItem[], ledger: string): { text: string } {
  const lines = drifted.slice(0, 20).map((d) => `• ${d.kind?.replace('_', ' ')}: ${d.ref}${d.observed ? ` now ${d.observed}` : ' is gone'} (approved ${d.approved ?? '?'})`);
  if (drifted.length > 20) lines.push(`… and ${drifted.length - 20} more`);
  return { text: redact(`kamal-gate drift: ${drifted.length} tag${drifted.length === 1 ? '' : 's'} drifted in ${ledger}\n${lines.join('\n')}`) };
}

/**
 * Checks the webhook URL and registers it, and the parts of it that carry the secret (path, query,
 * user info), for redaction: as given, and as normalized. Called before anything can print it.
 */
export function webhookUrl(url: string): URL {
  registerSecret(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError('--webhook: not a URL');
  }
  registerSecret(u.href);
  registerSecret(decodeURIComponent(u.password));
  registerSecret(u.password);
  // Slack, Discord and Teams put the token in the path; others in the query.
  const path = `${u.pathname}${u.search}`;
  if (path.length >= 8) registerSecret(path);
  for (const segment of u.pathname.split('/')) if (segment.length >= 8) registerSecret(segment);
  for (const [, value] of u.searchParams) registerSecret(value);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError('--webhook: only http and https URLs');
  return u;
}

/** POSTs the payload; the URL is a secret (Slack's carries a token): it never appears in output. */
async function postWebhook(url: string, payload: { text: string }): Promise<void> {
  const u = webhookUrl(url);
  const res = await request(u, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  await res.body.dump();
  if (res.statusCode >= 300) throw new Error(`the webhook answered ${res.statusCode}`);
}

/** What the loop needs to know of a round the caller ran (and printed). */
export interface RoundOutcome {
  exitCode: number;
  /** Tags found overwritten, rolled back or deleted. */
  drifted: DriftItem[];
  /** Every tag checked, for the metrics. */
  items: readonly DriftItem[];
  ms: number;
}

export interface RoundsOptions {
  /** Repeat every `intervalMs` until `signal` aborts; without it, one round and its exit code. */
  watch: boolean;
  intervalMs: number;
  metrics: DriftMetrics;
  /** `--webhook`: POSTed to when a round finds drift other than the round before reported. */
  webhook?: { url: string; ledger: string };
  /** For a webhook that failed (the rounds go on). */
  warn: (message: string) => void;
  /**
   * Stops the rounds (SIGTERM or SIGINT, wired by the caller): the round in flight finishes, a wait
   * for the next one ends at once, and the loop returns 0.
   */
  signal?: AbortSignal;
}

/** Runs `round` once, or with `watch` until stopped; returns the exit code. */
export async function driftRounds(round: () => Promise<RoundOutcome>, opts: RoundsOptions): Promise<number> {
  let lastDrift = '';
  for (;;) {
    const r = await round();
    opts.metrics.round({ items: r.items, drift: r.drifted, ms: r.ms });
    const key = r.drifted
      .map((d) => `${d.ref}|${d.observed}`)
      .sort()
      .join('\n');
    if (opts.webhook && r.drifted.length && key !== lastDrift) {
      try {
        await postWebhook(opts.webhook.url, webhookPayload(r.drifted, opts.webhook.ledger));
      } catch (e) {
        opts.warn(`the drift webhook failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    lastDrift = key;
    if (!opts.watch) return r.exitCode;
    if (opts.signal?.aborted) return 0;
    await sleep(opts.intervalMs, opts.signal);
    if (opts.signal?.aborted) return 0;
  }
}

/** Waits `ms`, or until `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
