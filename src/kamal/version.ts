/**
 * The version Kamal tags the app image with: `--version`, then KAMAL_VERSION (what Kamal passes to
 * hooks), then VERSION, then `git rev-parse HEAD`. Git runs without a shell; nothing else runs.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigError } from '../errors.js';
import type { Env } from './erb.js';

const run = promisify(execFile);
const GIT_TIMEOUT_MS = 10_000;

export interface VersionOptions {
  version?: string;
  env: Env;
  /** Directory git runs in (the config file's). */
  gitDir: string;
  /** For errors. */
  configFile: string;
}

export interface ResolvedVersion {
  version: string;
  source: '--version' | 'KAMAL_VERSION' | 'VERSION' | 'git HEAD';
}

export async function resolveVersion(opts: VersionOptions): Promise<ResolvedVersion> {
  if (opts.version) return { version: opts.version, source: '--version' };
  if (opts.env.KAMAL_VERSION) return { version: opts.env.KAMAL_VERSION, source: 'KAMAL_VERSION' };
  if (opts.env.VERSION) return { version: opts.env.VERSION, source: 'VERSION' };
  const head = await git(['rev-parse', 'HEAD'], opts.gitDir);
  if (head === undefined || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(head)) {
    throw new ConfigError(`no version for the app image: pass --version or set VERSION (${opts.gitDir} is not in a git repository with a commit, so git HEAD cannot be used)`, opts.configFile);
  }
  return { version: head, source: 'git HEAD' };
}

/** Whether `git status --porcelain` lists changes (Kamal then appends `_uncommitted_<random>` when not building from a clone). */
export async function hasUncommittedChanges(dir: string): Promise<boolean> {
  const status = await git(['status', '--porcelain'], dir);
  return status !== undefined && status !== '';
}

async function git(args: string[], cwd: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', args, { cwd, timeout: GIT_TIMEOUT_MS, windowsHide: true });
    return stdout.trim();
  } catch {
    return undefined;
  }
}
