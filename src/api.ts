/**
 * `verifyImages`: the library form of `kamal-gate verify`. A thin wrapper over the command's own
 * code (src/cli/verify.ts `buildVerifyReport`): the same targets, credentials, policy, ledger and
 * checks, returning the typed report instead of printing it.
 */
import { buildVerifyReport, type VerifyOptions as CliVerifyOptions } from './cli/verify.js';
import { stdinOf, type Io } from './cli/io.js';
import { redact } from './redact.js';
import type { VerifyReport } from './report/model.js';

export interface VerifyImagesOptions {
  /** Image references to verify (`ghcr.io/acme/app:1.4.2`). Without them, the Kamal config is read. */
  refs?: string[];
  /** The Kamal config (default `config/deploy.yml`, read against `cwd`). Not together with `refs`. */
  configFile?: string;
  /** A destination overlay (`config/deploy.<destination>.yml`). */
  destination?: string;
  /** The version Kamal deploys (default `$KAMAL_VERSION`, `$VERSION`, then git HEAD). */
  version?: string;
  /** The folder relative paths are read against (default `process.cwd()`). */
  cwd?: string;
  /** The environment the config's ERB and secrets read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** A policy, as `--policy` takes it. Default as the CLI: the app's own policy file, else the built-in baseline. */
  policy?: string;
  /** A ledger file or `postgres://` URL; `false` for none. Default as the CLI: the app's `.kamal/image-ledger.jsonl`. */
  ledger?: string | false;
  /** Platforms to check (`linux/arm64`), overriding Kamal's `builder.arch`. */
  platforms?: string[];
  /** Registries spoken to over plain HTTP (loopback registries always may). */
  insecureRegistries?: string[];
  /** Credentials for one registry (default server: the app image's registry). */
  registry?: { username: string; password: string; server?: string };
  /** cosign public keys an image must be signed with, as `--key` takes them. */
  keys?: string[];
  /** Keyless signatures: the certificate identity and OIDC issuer required. */
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
  /** Fail a tag the ledger has never recorded (`--require-recorded`). */
  requireRecorded?: boolean;
  /** Seconds per registry request (`--timeout`). */
  timeoutSeconds?: number;
  /** A content cache folder, or `false` for none (default as the CLI). */
  cache?: string | false;
  /** Warnings and notes the CLI would print on stderr. Default: dropped. */
  onWarning?: (message: string) => void;
}

/**
 * Verifies images as `kamal-gate verify` does and returns its report: `report.exitCode` is the
 * command's exit code (0 passed, 1 policy violation, 3 could not verify); each image's findings and
 * status are in `report.images`. A usage or config mistake (no config, a bad reference or policy)
 * rejects with a `KamalGateError` whose `exitCode` is 2 and whose message says what to do. Registry
 * passwords and tokens are redacted from the report and the warnings, as from the CLI's output.
 */
export async function verifyImages(options: VerifyImagesOptions = {}): Promise<VerifyReport> {
  const o = options;
  const opts: Omit<CliVerifyOptions, 'format'> = {
    ...(o.configFile !== undefined ? { configFile: o.configFile } : {}),
    ...(o.destination !== undefined ? { destination: o.destination } : {}),
    ...(o.version !== undefined ? { version: o.version } : {}),
    ...(o.policy !== undefined ? { policy: o.policy } : {}),
    ...(o.ledger !== undefined ? { ledger: o.ledger } : {}),
    ...(o.platforms ? { platform: o.platforms } : {}),
    ...(o.insecureRegistries ? { insecureRegistry: o.insecureRegistries } : {}),
    ...(o.registry ? { registryUsername: o.registry.username, registryPasswordStdin: true } : {}),
    ...(o.registry?.server ? { registryServer: o.registry.server } : {}),
    ...(o.keys ? { key: o.keys } : {}),
    ...(o.certificateIdentity !== undefined ? { certificateIdentity: o.certificateIdentity } : {}),
    ...(o.certificateOidcIssuer !== undefined ? { certificateOidcIssuer: o.certificateOidcIssuer } : {}),
    ...(o.requireRecorded ? { requireRecorded: true } : {}),
    ...(o.timeoutSeconds !== undefined ? { timeout: String(o.timeoutSeconds) } : {}),
    ...(o.cache === false ? { cache: false } : typeof o.cache === 'string' ? { cacheDir: o.cache } : {}),
    quiet: true,
  };
  const warn = o.onWarning;
  const io: Io = {
    out: () => undefined,
    err: (s) => {
      const text = redact(s).trim();
      if (warn && text) warn(text);
    },
    env: o.env ?? process.env,
    cwd: o.cwd ?? process.cwd(),
    isTty: false,
    stdin: stdinOf(o.registry?.password),
    onSignal: () => () => undefined,
  };
  // Redacted of every secret learned on the way, as everything the CLI prints is.
  return JSON.parse(redact(JSON.stringify(await buildVerifyReport(o.refs ?? [], opts, io)))) as VerifyReport;
}
