/**
 * The SSH transport: one fixed script on one host over one OpenSSH `ssh` invocation (one connection),
 * run with execFile and an argument list, never through a local shell. Kamal's `ssh:` settings map to
 * ssh's flags: `-l user`, `-p port`, `-i key` (`IdentitiesOnly=yes` with `keys_only`), `-J jump`
 * (`ssh.proxy`) or `-o ProxyCommand=` (`ssh.proxy_command`), `-F file` (`ssh.config`); always
 * `BatchMode=yes` (no prompt can hang a deploy) and a connect timeout. The user's ~/.ssh/config,
 * agent and known_hosts apply as OpenSSH applies them; host keys: see targets.ts.
 *
 * The script is built by the caller from fixed words and values quoted by shellQuote (quote.ts);
 * this module adds nothing to it. The host, the user and the jump host are ssh arguments, not shell
 * words, and are refused when ssh could read them as options or they are not plain names.
 */
import { execFile } from 'node:child_process';
import { ConfigError, EXIT, KamalGateError } from '../errors.js';
import { printable } from '../printable.js';
import type { SshSettings } from './targets.js';

/** A host that could not be reached, refused the connection or the login, or did not answer in time. */
export class HostError extends KamalGateError {
  readonly exitCode = EXIT.unverifiable;
  readonly kind = 'host';
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SshRunOptions {
  /** Per-host deadline for the whole session, ms (default 20 s). */
  timeoutMs?: number;
  /** The ssh program (default `ssh` on PATH). */
  ssh?: string;
  env?: NodeJS.ProcessEnv;
}

/** What one session returned: the remote script's exit code and output, and its wall time. */
export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const HOST = /^[A-Za-z0-9_[][A-Za-z0-9._:%[\]-]*$/;

/** The ssh arguments for `host`, without the script. Throws ConfigError for a user, host or jump host ssh could misread. */
export function sshArgs(host: string, s: SshSettings, timeoutMs: number): string[] {
  if (!NAME.test(s.user)) {
    throw new ConfigError(`ssh.user "${printable(s.user, 80)}" is not a user name kamal-gate passes to ssh (letters, digits, . _ -); fix ssh.user in the Kamal config`);
  }
  if (!HOST.test(host)) throw new ConfigError(`host "${printable(host, 80)}" is not a host name kamal-gate passes to ssh; fix servers:/accessories: in the Kamal config`);
  const args = ['-T', '-o', 'BatchMode=yes', '-o', `ConnectTimeout=${Math.max(1, Math.ceil(timeoutMs / 1000))}`, '-o', 'LogLevel=ERROR'];
  if (s.configFile) args.push('-F', s.configFile);
  args.push('-l', s.user);
  if (s.port !== undefined) args.push('-p', String(s.port));
  for (const key of s.keys) args.push('-i', key);
  if (s.keysOnly) args.push('-o', 'IdentitiesOnly=yes');
  if (s.jump !== undefined) {
    const [user, jumpHost] = s.jump.split('@', 2) as [string, string];
    if (!NAME.test(user) || !HOST.test(jumpHost ?? '')) throw new ConfigError(`ssh.proxy "${printable(s.jump, 80)}" is not [user@]host; fix ssh.proxy in the Kamal config`);
    args.push('-J', s.jump);
  } else if (s.proxyCommand !== undefined) {
    // Kamal runs it locally too (net-ssh's Proxy::Command), with the user's own config.
    args.push('-o', `ProxyCommand=${s.proxyCommand}`);
  }
  args.push('--', host);
  return args;
}

/**
 * Runs `script` on `host` in one ssh session. Resolves with the remote exit code; throws HostError
 * when ssh itself fails (exit 255: unreachable, refused, host key or login refused) or the deadline passes.
 */
export function runOnHost(host: string, script: string, settings: SshSettings, opts: SshRunOptions = {}): Promise<SshResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const args = [...sshArgs(host, settings, timeoutMs), script];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      opts.ssh ?? 'ssh',
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8', env: opts.env ?? process.env, shell: false },
      (err, stdout, stderr) => {
        const ms = Math.round(performance.now() - started);
        if (!err) return resolve({ code: 0, stdout, stderr, ms });
        const e = err as { killed?: boolean; code?: unknown; message: string };
        if (e.code === 'ENOENT') return reject(new HostError(host, `${host}: the OpenSSH client (ssh) is not installed or not on PATH; install openssh-client`));
        if (e.killed) return reject(new HostError(host, `${host}: no answer over SSH within ${Math.round(timeoutMs / 1000)} s; check that the host is up and reachable`));
        if (e.code === 255 || typeof e.code !== 'number') {
          const why = printable(stderr.trim().split('\n').slice(-3).join('; ') || e.message, 400);
          return reject(new HostError(host, `${host}: could not connect over SSH as ${settings.user}: ${why}; check the host, ssh settings and known_hosts (ssh ${host} must work without a prompt)`));
        }
        resolve({ code: e.code, stdout, stderr, ms });
      },
    );
  });
}
