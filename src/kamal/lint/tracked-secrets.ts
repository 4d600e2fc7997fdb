/**
 * Secrets files and `.env` files git tracks with literal values in them (`config.secrets_tracked`):
 * the secret is in the repository and its history. Only the secrets files Kamal reads for the
 * destination linted are looked at; references (`$VAR`, `${VAR}`, `$(command)`) and public values
 * are not secrets. The only process started is `git ls-files` (an argument array, no shell).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { ConfigError } from '../../errors.js';
import { FILE_LIMITS, readUserText } from '../../user-file.js';
import { displayPath } from '../paths.js';
import { DEFAULT_SECRETS_PATH } from '../secrets.js';
import type { AppFiles, Report, RuleChecks } from './rule.js';
import { isPlaceholder, isPublicName, isSecretName, looksPublic, publicValueKind, secretValueKind, withoutReferences } from './secret-values.js';

interface GitFiles {
  /** Tracked paths relative to the app root, or undefined with the reason they could not be listed. */
  files?: string[];
  skipped?: string;
}

/**
 * `git ls-files` in the app root, which git prints relative to that folder (also when the
 * repository's top is above it); never throws.
 */
function gitTrackedFiles(appRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<GitFiles> {
  return new Promise((resolve) => {
    execFile('git', ['-C', appRoot, 'ls-files', '-z', '--', '.'], { env: { ...env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 64 * 1024 * 1024, windowsHide: true }, (error, stdout, stderr) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return resolve({ skipped: 'git is not installed: skipped' });
        if (/not a git repository/i.test(String(stderr))) return resolve({ skipped: 'not a git repository: skipped' });
        return resolve({ skipped: `git ls-files failed: skipped (${String(stderr).trim().split('\n')[0] ?? error.message})` });
      }
      resolve({ files: stdout.split('\0').filter(Boolean) });
    });
  });
}

/**
 * The secrets files Kamal reads (`Kamal::Secrets#secrets_filenames`), relative to the app root:
 * `<secrets_path>-common`, then `<secrets_path>` without a destination or `<secrets_path>.<dest>`
 * with one. Other destinations' files are not read by this deploy, so they are not this lint's.
 */
function secretsFilesRead(appRoot: string, secretsPath: string, destination: string | undefined): Set<string> {
  const base = path.relative(appRoot, path.resolve(appRoot, secretsPath)).split(path.sep).join('/');
  return new Set([`${base}-common`, destination === undefined ? base : `${base}.${destination}`]);
}

function isEnvFile(rel: string): boolean {
  const name = path.basename(rel);
  return /^\.env(?:\.[^/]+)?$/.test(name) && !/\.(?:example|sample|template|dist|defaults?)$/i.test(name);
}

/**
 * What a dotenv value as written holds literally: unquoted, and (outside single quotes, where dotenv
 * expands nothing) without its `$VAR`, `${VAR}` and `$(command)` references, `kamal secrets` forms included.
 */
function dotenvLiteralPart(raw: string): string {
  const v = raw.trim();
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1).trim();
  return withoutReferences(v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v);
}

/** A dotenv value as written: true when it holds characters besides `$VAR`, `${VAR}` and `$(command)`. */
export function isLiteralDotenvValue(raw: string): boolean {
  return !isPlaceholder(dotenvLiteralPart(raw));
}

/**
 * Whether a tracked line holds a literal secret, and what it looks like. References and public values
 * (password manager references, publishable keys) never do; a secret's format or name always does.
 * In Kamal's secrets files every other value counts too, unless its name or value says it is public
 * (a user name, a URL without a password, a host list); in .env files only those that look like one.
 */
function literalSecret(key: string, raw: string, secretsFile: boolean): { kind?: string } | undefined {
  const value = dotenvLiteralPart(raw);
  if (isPlaceholder(value) || publicValueKind(value)) return undefined;
  const kind = secretValueKind(value);
  if (kind) return { kind };
  if (isSecretName(key)) return {};
  if (secretsFile && !isPublicName(key) && !looksPublic(value)) return {};
  return undefined;
}

export const secretsTracked: RuleChecks = {
  async files(report: Report, app: AppFiles): Promise<string[]> {
    const { appRoot, cwd } = app;
    const secretsFiles = secretsFilesRead(appRoot, app.config.secretsPath ?? DEFAULT_SECRETS_PATH, app.destination);
    const tracked = await gitTrackedFiles(appRoot, app.env);
    if (!tracked.files) return [`secrets files tracked by git: ${tracked.skipped ?? 'skipped'}`];
    for (const rel of tracked.files) {
      const secretsFile = secretsFiles.has(rel.split(path.sep).join('/'));
      if (!secretsFile && !isEnvFile(rel)) continue;
      const abs = path.resolve(appRoot, rel);
      const file = displayPath(abs, cwd);
      let text: string;
      try {
        text = await readUserText(abs, { limit: FILE_LIMITS.text, what: 'a secrets or .env file', refuse: (message) => new ConfigError(message, file) });
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        continue; // tracked but deleted in the work tree
      }
      text.split(/\r?\n/).forEach((line, i) => {
        const m = /^\s*(?:export\s+)?([\w.]+)\s*(?:=|:\s)\s*(.*?)\s*$/.exec(line);
        if (!m || line.trimStart().startsWith('#')) return;
        const key = m[1]!;
        const raw = m[2]!.replace(/\s+#.*$/, '');
        const found = literalSecret(key, raw, secretsFile);
        if (!found) return;
        const { kind } = found;
        report({
          severity: 'critical',
          source: { file, line: i + 1 },
          message: `${file} is tracked by git and sets ${key} to a literal value${kind ? ` that looks like ${kind}` : ''}: the secret is in the repository and its history`,
          remedy: `write ${key}=$${key} (taken from the environment) or a password manager lookup such as $(kamal secrets fetch …) instead, ${secretsFile ? '' : `or stop tracking the file (git rm --cached ${rel} and add it to .gitignore), `}and rotate the value: it stays in the git history`,
          evidence: { file, key, ...(kind ? { looksLike: kind } : {}) },
        });
      });
    }
    return [];
  },
};
