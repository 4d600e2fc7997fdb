/**
 * HTTP for the registry client, on undici: keep-alive connection pools with a bounded number of
 * connections per origin, a deadline on every request, capped bodies, manual redirects that never
 * carry credentials to another origin, and retries with backoff that honour `Retry-After`.
 * Every response body is read (up to its cap) or destroyed, so sockets go back to the pool.
 */
import { Agent, request } from './undici.js';
import { ProtocolError, RegistryError } from '../errors.js';
import { isLoopbackHost } from './reference.js';
import type { Stats } from './stats.js';

export type Headers = Record<string, string>;

export interface HttpOptions {
  /** Deadline for one request, headers and whole body included. */
  timeoutMs: number;
  /** Connections (so concurrent requests) per origin. */
  connectionsPerOrigin: number;
  /** Retries after the first attempt for 429/502/503/504 and connection failures. */
  maxRetries: number;
  /** First backoff delay; doubled each retry (with jitter). */
  retryBaseMs: number;
  /** A `Retry-After` longer than this fails the request instead of waiting. */
  maxRetryAfterMs: number;
  maxRedirects: number;
}

const DEFAULT_HTTP_OPTIONS: HttpOptions = {
  timeoutMs: 30_000,
  connectionsPerOrigin: 6,
  maxRetries: 3,
  retryBaseMs: 250,
  maxRetryAfterMs: 30_000,
  maxRedirects: 5,
};

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST';
  url: URL;
  headers?: Headers;
  body?: string;
  /** The body is read up to this many bytes; more is a ProtocolError. */
  maxBytes: number;
  /** Registry name the request counts against in --stats, and names in errors. */
  registry: string;
  /** Statuses (besides 2xx) whose body the caller wants; others are read only for an error message. */
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The URL that finally answered (after redirects). */
  url: URL;
}

const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const ERROR_BODY_MAX = 64 * 1024;

function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Seconds or an HTTP-date (RFC 9110); undefined when absent or unparseable. */
function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^[0-9]+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class HttpTransport {
  readonly options: HttpOptions;
  private readonly agent: Agent;

  constructor(
    private readonly stats: Stats,
    options: Partial<HttpOptions> = {},
  ) {
    this.options = { ...DEFAULT_HTTP_OPTIONS, ...options };
    this.agent = new Agent({
      connections: this.options.connectionsPerOrigin,
      keepAliveTimeout: 30_000,
      headersTimeout: this.options.timeoutMs,
      bodyTimeout: this.options.timeoutMs,
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  async abort(): Promise<void> {
    await this.agent.destroy();
  }

  /**
   * Sends a request, following redirects and retrying transient failures. The Authorization header
   * is sent only to the origin of the original URL.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    let attempt = 0;
    for (;;) {
      let res: HttpResponse;
      try {
        res = await this.followRedirects(req);
      } catch (e) {
        if (e instanceof RetryableNetworkError && attempt < this.options.maxRetries) {
          await sleep(this.backoff(attempt++));
          continue;
        }
        if (e instanceof RetryableNetworkError) throw e.toRegistryError();
        throw e;
      }
      if (!RETRY_STATUSES.has(res.status) || attempt >= this.options.maxRetries) return res;
      const retryAfter = parseRetryAfter(res.headers['retry-after']);
      if (retryAfter !== undefined && retryAfter > this.options.maxRetryAfterMs) return res;
      await sleep(retryAfter ?? this.backoff(attempt));
      attempt++;
    }
  }

  private backoff(attempt: number): number {
    const base = this.options.retryBaseMs * 2 ** attempt;
    return base / 2 + Math.random() * (base / 2);
  }

  private async followRedirects(req: HttpRequest): Promise<HttpResponse> {
    const origin = req.url.origin;
    const seen = new Set<string>();
    let url = req.url;
    let method = req.method;
    let body = req.body;
    for (let hop = 0; ; hop++) {
      const headers: Headers = { ...req.headers };
      if (url.origin !== origin) {
        // Credentials belong to the registry's own origin only (CVE-2020-15157, ggcr #2349).
        for (const k of Object.keys(headers)) if (k.toLowerCase() === 'authorization') delete headers[k];
      }
      const res = await this.once({ ...req, url, method, body, headers });
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      const location = res.headers['location'];
      if (!location) throw new ProtocolError(`${req.registry} answered ${res.status} without a Location header for ${url.pathname}`, req.registry, res.status);
      if (hop >= this.options.maxRedirects) {
        throw new ProtocolError(`${req.registry}: too many redirects (more than ${this.options.maxRedirects}) for ${req.url.pathname}`, req.registry, res.status);
      }
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new ProtocolError(`${req.registry}: refusing redirect to a ${next.protocol} URL`, req.registry);
      }
      if (url.protocol === 'https:' && next.protocol === 'http:') {
        throw new ProtocolError(`${req.registry}: refusing redirect from https to plain http (${next.host})`, req.registry);
      }
      if (next.protocol === 'http:' && next.host !== url.host && !isLoopbackHost(next.host)) {
        throw new ProtocolError(`${req.registry}: refusing redirect to plain-http host ${next.host}`, req.registry);
      }
      if (seen.has(next.href)) throw new ProtocolError(`${req.registry}: redirect loop at ${next.pathname}`, req.registry, res.status);
      if (next.origin !== origin && body !== undefined && res.status !== 303) {
        // 307/308 (and, here, 301/302) resend the body: for a token request it carries a refresh token.
        throw new ProtocolError(`${req.registry}: refusing to send a ${method} body to another host (${next.host}) on a ${res.status} redirect from ${url.pathname}`, req.registry, res.status);
      }
      seen.add(next.href);
      if (res.status === 303) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  /** One request, no redirects, no retries. */
  private async once(req: HttpRequest & { headers: Headers }): Promise<HttpResponse> {
    const started = performance.now();
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    let statusCode: number;
    let rawHeaders: Record<string, string | string[] | undefined>;
    let bodyStream: AsyncIterable<Buffer> & { destroy(err?: Error): void; dump?(): Promise<void> };
    try {
      const r = await request(this.agent, {
        origin: req.url.origin,
        path: req.url.pathname + req.url.search,
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal,
      });
      statusCode = r.statusCode;
      rawHeaders = r.headers;
      bodyStream = r.body as unknown as typeof bodyStream;
    } catch (e) {
      this.stats.record(req.registry, 0, performance.now() - started);
      throw networkError(e, req, signal.aborted, this.options.timeoutMs);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(rawHeaders)) {
      const hv = headerValue(v);
      if (hv !== undefined) headers[k.toLowerCase()] = hv;
    }
    const ok = statusCode >= 200 && statusCode < 300;
    const cap = ok ? req.maxBytes : Math.min(req.maxBytes, ERROR_BODY_MAX);
    let body: Buffer;
    try {
      body = req.method === 'HEAD' ? Buffer.alloc(0) : await readCapped(bodyStream, headers, cap, ok, req);
      if (req.method === 'HEAD') await drain(bodyStream);
    } catch (e) {
      bodyStream.destroy();
      this.stats.record(req.registry, 0, performance.now() - started);
      if (e instanceof RegistryError) throw e;
      throw networkError(e, req, signal.aborted, this.options.timeoutMs);
    }
    this.stats.record(req.registry, body.length, performance.now() - started);
    return { status: statusCode, headers, body, url: req.url };
  }
}

async function drain(stream: { dump?(): Promise<void>; destroy(): void }): Promise<void> {
  if (stream.dump) await stream.dump();
  else stream.destroy();
}

async function readCapped(stream: AsyncIterable<Buffer> & { destroy(err?: Error): void }, headers: Record<string, string>, cap: number, strict: boolean, req: HttpRequest): Promise<Buffer> {
  const declared = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
  if (strict && declared !== undefined && declared > cap) {
    stream.destroy();
    throw new ProtocolError(`${req.registry}: response for ${req.url.pathname} is ${declared} bytes, over the ${cap}-byte limit`, req.registry);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > cap) {
      stream.destroy();
      if (!strict) break; // an error body: keep what we have for the message
      throw new ProtocolError(`${req.registry}: response for ${req.url.pathname} exceeds the ${cap}-byte limit`, req.registry);
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  if (strict && declared !== undefined && body.length !== declared) {
    throw new ProtocolError(`${req.registry}: response for ${req.url.pathname} was truncated (${body.length} of ${declared} bytes)`, req.registry);
  }
  return body;
}

class RetryableNetworkError extends Error {
  constructor(
    message: string,
    readonly registry: string,
  ) {
    super(message);
  }
  toRegistryError(): RegistryError {
    return new RegistryError(this.message, this.registry);
  }
}

/** `30 s`, `0.4 s`: a sub-second --timeout is not shown as `0 s`. */
function formatSeconds(ms: number): string {
  return `${ms >= 10_000 ? Math.round(ms / 1000) : Number((ms / 1000).toPrecision(2))} s`;
}

function networkError(e: unknown, req: HttpRequest, aborted: boolean, timeoutMs: number): Error {
  const where = `${req.registry} (${req.url.host})`;
  if (aborted || (e instanceof Error && /timeout/i.test(e.name + (e as { code?: string }).code))) {
    return new RegistryError(`${where} did not answer ${req.method} ${req.url.pathname} within ${formatSeconds(timeoutMs)}; check the registry is reachable or raise --timeout`, req.registry);
  }
  const code = (e as { code?: string }).code ?? '';
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new RegistryError(`cannot resolve registry host ${req.url.hostname}: check the registry name`, req.registry);
  }
  if (code === 'ECONNREFUSED') {
    return new RegistryError(`${where} refused the connection: is the registry running?`, req.registry);
  }
  if (/certificate|self.signed|SSL|TLS|EPROTO/i.test(code + msg)) {
    return new RegistryError(`${where}: TLS failed (${msg}). For a plain-HTTP registry use --insecure-registry ${req.registry}`, req.registry);
  }
  return new RetryableNetworkError(`${where}: ${req.method} ${req.url.pathname} failed: ${msg}${code ? ` (${code})` : ''}`, req.registry);
}
