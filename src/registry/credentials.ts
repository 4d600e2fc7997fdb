/**
 * Where registry credentials come from, in order of precedence:
 *   1. the command line (`--registry-username` / `--registry-password-stdin`),
 *   2. the Kamal config (`registry.username` / password secret),
 *   3. Docker's config.json (`credHelpers`, then `credsStore`, then `auths`), `DOCKER_CONFIG` respected.
 * No credential means anonymous access. Every secret learned is registered for redaction.
 */
import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { FILE_LIMITS, readUserText } from '../user-file.js';
import { registerBasicAuth, registerSecret } from '../redact.js';
import { DOCKER_HUB } from './reference.js';

export type Credential =
  | { kind: 'basic'; username: string; password: string; origin: string }
  /** An OAuth2 refresh token (`identitytoken`, or a helper answering Username `<token>`). */
  | { kind: 'identity-token'; token: string; origin: string }
  /** A ready-made bearer token (`registrytoken`). */
  | { kind: 'registry-token'; token: string; origin: string };

export interface CredentialSource {
  get(registry: string): Promise<Credential | undefined>;
  /** When `get` has none for `registry` though the user meant to give one: why (e.g. the secret the Kamal config names is not set). */
  missing?(registry: string): string | undefined;
}

/** Registry names as users write them (`https://index.docker.io/v1/`, `ghcr.io/`) → the normalized name. */
export function normalizeRegistryName(server: string): string {
  let s = server.trim().replace(/^[a-z]+:\/\//i, '');
  s = s.replace(/\/.*$/, '');
  s = s.toLowerCase();
  if (s === '' || s === 'index.docker.io' || s === 'registry-1.docker.io' || s === 'docker.io') return DOCKER_HUB;
  return s;
}

export function basicCredential(username: string, password: string, origin: string): Credential {
  registerBasicAuth(username, password);
  return { kind: 'basic', username, password, origin };
}

/** Fixed credentials per registry (command line, Kamal config). */
export class StaticCredentials implements CredentialSource {
  private readonly map = new Map<string, Credential>();
  private readonly why = new Map<string, string>();
  set(registry: string, cred: Credential): void {
    this.map.set(normalizeRegistryName(registry), cred);
  }
  /** A credential the config names for `registry` but whose password is missing, and why. */
  setMissing(registry: string, why: string): void {
    this.why.set(normalizeRegistryName(registry), why);
  }
  async get(registry: string): Promise<Credential | undefined> {
    return this.map.get(normalizeRegistryName(registry));
  }
  missing(registry: string): string | undefined {
    return this.why.get(normalizeRegistryName(registry));
  }
}

/** Tries each source in turn; the first that knows the registry wins. */
export class ChainedCredentials implements CredentialSource {
  constructor(private readonly sources: CredentialSource[]) {}
  async get(registry: string): Promise<Credential | undefined> {
    for (const s of this.sources) {
      const c = await s.get(registry);
      if (c) return c;
    }
    return undefined;
  }
  missing(registry: string): string | undefined {
    for (const s of this.sources) {
      const why = s.missing?.(registry);
      if (why !== undefined) return why;
    }
    return undefined;
  }
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const HELPER_TIMEOUT_MS = 15_000;
const HELPER_MAX_OUTPUT = 1024 * 1024;

/** The key Docker files a registry under: Docker Hub's legacy URL, else `host[:port]`. */
function dockerConfigKey(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

export type HelperRunner = (helper: string, serverUrl: string) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Runs `docker-credential-<name> get` with the server URL on stdin: no shell, a timeout and an output cap. */
const runCredentialHelper: HelperRunner = (helper, serverUrl) =>
  new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: HELPER_TIMEOUT_MS, maxBuffer: HELPER_MAX_OUTPUT, windowsHide: true }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new ConfigError(`credential helper docker-credential-${helper} is named in Docker's config.json but is not on PATH; install it or remove it from the config`));
        return;
      }
      if (err && (err as { killed?: boolean }).killed) {
        reject(new ConfigError(`credential helper docker-credential-${helper} did not answer within ${HELPER_TIMEOUT_MS / 1000} s`));
        return;
      }
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.end(serverUrl);
  });

/** Docker's config.json: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export class DockerConfigCredentials implements CredentialSource {
  private config: Promise<{ file: string; data: DockerConfigFile } | undefined> | undefined;
  private readonly cache = new Map<string, Promise<Credential | undefined>>();

  constructor(
    private readonly env: Record<string, string | undefined> = process.env,
    private readonly runHelper: HelperRunner = runCredentialHelper,
  ) {}

  private load(): Promise<{ file: string; data: DockerConfigFile } | undefined> {
    this.config ??= (async () => {
      const dir = this.env['DOCKER_CONFIG'] || join(this.env['HOME'] || homedir(), '.docker');
      const file = join(dir, 'config.json');
      let text: string;
      try {
        text = await readUserText(file, { limit: FILE_LIMITS.dockerConfig, what: "Docker's config.json", refuse: (message) => new ConfigError(message, file) });
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        return undefined;
      }
      try {
        const data = JSON.parse(text) as unknown;
        if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error('not an object');
        return { file, data: data as DockerConfigFile };
      } catch (e) {
        throw new ConfigError(`is not valid JSON (${(e as Error).message}); fix or remove it`, file);
      }
    })();
    return this.config;
  }

  get(registry: string): Promise<Credential | undefined> {
    const key = normalizeRegistryName(registry);
    let p = this.cache.get(key);
    if (!p) this.cache.set(key, (p = this.lookup(key)));
    return p;
  }

  private async lookup(registry: string): Promise<Credential | undefined> {
    const cfg = await this.load();
    if (!cfg) return undefined;
    const { data, file } = cfg;
    const key = dockerConfigKey(registry);
    const helper = findByRegistry(data.credHelpers, registry) ?? data.credsStore;
    if (helper) return this.fromHelper(helper, key, file);
    const entry = findByRegistry(data.auths, registry);
    if (!entry) return undefined;
    const origin = `${file} auths`;
    if (entry.registrytoken) {
      registerSecret(entry.registrytoken);
      return { kind: 'registry-token', token: entry.registrytoken, origin };
    }
    if (entry.identitytoken) {
      registerSecret(entry.identitytoken);
      return { kind: 'identity-token', token: entry.identitytoken, origin };
    }
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8').replace(/\0+$/, '');
      const i = decoded.indexOf(':');
      if (i <= 0) throw new ConfigError(`the "auth" entry for ${key} is not base64 of user:password; run docker login again`, file);
      return basicCredential(decoded.slice(0, i), decoded.slice(i + 1), origin);
    }
    if (entry.username && entry.password) return basicCredential(entry.username, entry.password, origin);
    return undefined;
  }

  private async fromHelper(helper: string, serverUrl: string, file: string): Promise<Credential | undefined> {
    if (!HELPER_NAME.test(helper)) throw new ConfigError(`credential helper name "${helper}" is not valid`, file);
    const { code, stdout } = await this.runHelper(helper, serverUrl);
    if (code !== 0) {
      if (/credentials not found/i.test(stdout)) return undefined;
      throw new ConfigError(`credential helper docker-credential-${helper} failed for ${serverUrl} (exit ${code}): ${stdout.trim().slice(0, 200)}`);
    }
    let parsed: { Username?: unknown; Secret?: unknown };
    try {
      parsed = JSON.parse(stdout) as typeof parsed;
    } catch {
      throw new ConfigError(`credential helper docker-credential-${helper} printed something that is not JSON`);
    }
    const username = typeof parsed.Username === 'string' ? parsed.Username : '';
    const secret = typeof parsed.Secret === 'string' ? parsed.Secret : '';
    if (!secret) return undefined;
    const origin = `credential helper docker-credential-${helper}`;
    if (username === '<token>') {
      registerSecret(secret);
      return { kind: 'identity-token', token: secret, origin };
    }
    return basicCredential(username, secret, origin);
  }
}

/** Exact key first, then any key that normalizes to the same registry (`https://ghcr.io/v2/`). */
function findByRegistry<T>(map: Record<string, T> | undefined, registry: string): T | undefined {
  if (!map || typeof map !== 'object') return undefined;
  const exact = map[dockerConfigKey(registry)] ?? map[registry];
  if (exact !== undefined) return exact;
  for (const [k, v] of Object.entries(map)) if (normalizeRegistryName(k) === registry) return v;
  return undefined;
}
