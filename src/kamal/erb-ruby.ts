/**
 * `--erb ruby`: the config's ERB rendered by this machine's Ruby, as Kamal renders it
 * (`Kamal::Configuration.load_config_file`: `ERB.new(File.read(file), trim_mode: "-").result`, in
 * the folder Kamal runs in, with `ENV["KAMAL_DESTINATION"]` set to the destination). This runs the
 * Ruby and shell in the config: opt-in only, for teams that already run it on every `kamal deploy`.
 *
 * The child is `ruby` from PATH, started without a shell, running the fixed script below with the
 * file's path as its argument: no file of the config is `require`d by kamal-gate. Ruby loads the
 * standard libraries Kamal has loaded when it renders (erb, yaml, json, pathname, tmpdir, uri), not
 * Kamal's gems: a config calling ActiveSupport (`.present?`) or Kamal (`Kamal::Utils`) fails with
 * Ruby's NoMethodError/NameError unless it requires them itself.
 *
 * Limits: the environment is the one kamal-gate was given (Kamal renders with its whole
 * environment) plus KAMAL_DESTINATION, nothing kamal-gate learnt added; standard input is empty; a
 * deadline (10 s) after which Ruby and everything it started (its own process group) is killed; an
 * output cap (the YAML limit of a config file, as the rendered text is read as one). A failure is a
 * ConfigError naming the file and, when Ruby says so, the line, with Ruby's message's first line,
 * redacted (registered secrets, and the values of environment variables named like secrets).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, UsageError } from '../errors.js';
import { printable } from '../printable.js';
import { redact } from '../redact.js';
import { FILE_LIMITS } from '../user-file.js';
import type { Env } from './erb.js';
import { isSecretName } from './lint/secret-values.js';
import { alignRendered } from './rendered-map.js';
import type { OffsetMap } from './source-map.js';

/** How a config's ERB is read: the safe subset (runs nothing), or rendered by Ruby. */
export type ErbMode = 'safe' | 'ruby';

const DEADLINE_MS = 10_000;
/** After Ruby exits, how long to wait for the last of its output (a process it left behind may hold the pipe). */
const DRAIN_MS = 1_000;
/** Ruby's standard error kept for the message. */
const STDERR_KEPT = 64 * 1024;
/** Marks the line the script writes about an exception, so it stands out from what the config's commands wrote. */
const MARK = 'kamal-gate-erb-error';

/**
 * The script Ruby runs. No top-level local variable (the block's are its own), so the ERB sees
 * TOPLEVEL_BINDING as under Kamal. A watchdog thread ends the process group when kamal-gate
 * goes away (its parent changes), so an interrupted run leaves nothing behind.
 */
const SCRIPT = [
  '%w[erb yaml json pathname tmpdir uri].each { |lib| require lib }',
  'Thread.new(Process.ppid) { |parent| loop { sleep 0.25; Process.kill(:KILL, 0) if Process.ppid != parent } }',
  'ARGV.fetch(0).then do |file|',
  '  rendered = ERB.new(File.read(file), trim_mode: "-").result',
  '  $stdout.binmode',
  '  $stdout.write(rendered)',
  '  $stdout.flush',
  'rescue SystemExit',
  '  raise',
  'rescue Exception => e',
  '  at = e.backtrace_locations&.find { |l| l.path == "(erb)" }&.lineno || e.message[/\\A\\(erb\\):(\\d+):/, 1]',
  '  message = e.message.to_s.sub(/\\A\\(erb\\):\\d+: */, "").lines.first.to_s.chomp',
  `  $stderr.write("\\n${MARK}\\t#{at}\\t#{e.class}\\t#{message}\\n")`,
  '  exit 1',
  'end',
].join('\n');

/** Methods ActiveSupport adds that configs use; Kamal loads ActiveSupport, the Ruby here does not. */
const ACTIVE_SUPPORT = /^undefined method [`'](?:present\?|blank\?|presence|in\?|try)'/;
const ACTIVE_SUPPORT_HINT =
  ' (an ActiveSupport method: Kamal has ActiveSupport loaded, plain Ruby does not; write it in plain Ruby, e.g. ENV["X"].to_s.empty?, or add require "active_support/core_ext/object/blank" to the ERB if the gem is installed)';

export interface RubyRenderOptions {
  /** The template's absolute path, handed to Ruby. */
  path: string;
  /** The file as messages name it. */
  file: string;
  /** The template as kamal-gate read it, to map the rendered text back to its lines. */
  template: string;
  /** The environment Ruby renders in (KAMAL_DESTINATION already set). */
  env: Env;
  /** The folder Ruby runs in: the one kamal-gate runs in, as Kamal renders in the folder it runs in. */
  cwd: string;
  /** Default 10 s. */
  timeoutMs?: number;
  /** Default FILE_LIMITS.yaml. */
  maxBytes?: number;
}

type Outcome =
  | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }
  | { kind: 'timeout' }
  | { kind: 'too-large' }
  | { kind: 'spawn-error'; error: Error };

/** The rendered text and its map back to the template. */
export async function renderErbWithRuby(opts: RubyRenderOptions): Promise<{ text: string; map: OffsetMap }> {
  const ruby = await findRuby(opts.env);
  const timeoutMs = opts.timeoutMs ?? DEADLINE_MS;
  const maxBytes = opts.maxBytes ?? FILE_LIMITS.yaml;
  const outcome = await run(ruby, opts, timeoutMs, maxBytes);
  const what = `rendering ${opts.file} with Ruby (--erb ruby)`;
  switch (outcome.kind) {
    case 'timeout':
      throw new ConfigError(`${what} took longer than ${timeoutMs / 1000} s, so Ruby and what it started were stopped: look for a loop or a slow command in the ERB`, opts.file);
    case 'too-large':
      throw new ConfigError(`${what} produced more than ${maxBytes / 1024} KiB, the most kamal-gate reads as a Kamal config, so Ruby was stopped: look for a loop in the ERB`, opts.file);
    case 'spawn-error':
      throw new UsageError(`--erb ruby: could not start ${ruby} (${outcome.error.message}); install Ruby or use --erb safe`);
    case 'exit':
      if (outcome.code === 0) {
        const text = outcome.stdout.toString('utf8');
        return { text, map: alignRendered(opts.file, opts.template, text) };
      }
      throw failure(what, opts, outcome);
  }
}

/** `ruby` on the PATH of the environment it will run in; a UsageError when there is none. */
async function findRuby(env: Env): Promise<string> {
  for (const dir of (env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.resolve(dir, 'ruby');
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  throw new UsageError('--erb ruby (or KAMAL_GATE_ERB=ruby) renders the Kamal config with Ruby, but there is no ruby on PATH: install Ruby (Kamal runs on it) or use --erb safe');
}

function run(ruby: string, opts: RubyRenderOptions, timeoutMs: number, maxBytes: number): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
  return new Promise((resolve) => {
    // Its own process group, so the deadline ends Ruby and every command it started.
    const child = spawn(ruby, ['-e', SCRIPT, '--', opts.path], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let settled = false;
    let stopping = false;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let drain: NodeJS.Timeout | undefined;

    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(drain);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve(outcome);
    };
    /** Stops Ruby, then reports `outcome` once it has exited (or after a moment, should it not). */
    const stop = (outcome: Outcome): void => {
      if (settled || stopping) return;
      stopping = true;
      killGroup();
      if (exited) return settle(outcome);
      const wait = setTimeout(() => settle(outcome), DRAIN_MS);
      child.once('exit', () => {
        clearTimeout(wait);
        settle(outcome);
      });
    };
    const finish = (): void => {
      const e = exited ?? { code: null, signal: null };
      settle({ kind: 'exit', ...e, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8') });
    };

    const deadline = setTimeout(() => stop({ kind: 'timeout' }), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxBytes) stop({ kind: 'too-large' });
      else stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errBytes >= STDERR_KEPT) return;
      stderr.push(chunk.subarray(0, STDERR_KEPT - errBytes));
      errBytes += chunk.length;
    });
    child.on('error', (error) => settle({ kind: 'spawn-error', error }));
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      drain ??= setTimeout(finish, DRAIN_MS);
    });
    child.on('close', () => {
      if (exited) finish();
    });
  });
}

function failure(what: string, opts: RubyRenderOptions, outcome: Extract<Outcome, { kind: 'exit' }>): ConfigError {
  const clean = (s: string): string => printable(redactEnv(redact(s), opts.env));
  const lines = outcome.stderr.split('\n');
  const marked = lines.findLast((l) => l.startsWith(`${MARK}\t`));
  if (marked) {
    const [, at, cls, message] = marked.split('\t');
    const line = at ? Number(at) : undefined;
    const hint = cls === 'NoMethodError' && ACTIVE_SUPPORT.test(message ?? '') ? ACTIVE_SUPPORT_HINT : '';
    return new ConfigError(`${what} failed: Ruby raised ${clean(cls ?? 'an exception')}: ${clean(message ?? '')}${hint}`, opts.file, line && line > 0 ? line : undefined);
  }
  const how = outcome.signal ? `was ended by ${outcome.signal}` : `exited with status ${outcome.code}`;
  const tail = lines
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-3)
    .map(clean)
    .join(' | ');
  return new ConfigError(`${what} failed: Ruby ${how}${tail ? `; its last words: ${tail}` : ''}`, opts.file);
}

/** Values of environment variables named like secrets (PASSWORD, TOKEN, …_KEY), replaced by ***. */
function redactEnv(text: string, env: Env): string {
  let out = text;
  const values = Object.entries(env)
    .filter(([k, v]) => v !== undefined && v.length >= 4 && isSecretName(k))
    .map(([, v]) => v!)
    .sort((a, b) => b.length - a.length);
  for (const v of values) out = out.split(v).join('***');
  return out;
}
