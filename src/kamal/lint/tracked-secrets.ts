/**
 * Secrets files and `.env` files git tracks with literal values in them (`config.secrets_tracked`):
 * the secret is in the repository and its history. The only process started is `git ls-files`
 * (an argument array, no shell).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { ConfigError } from '../../errors.js';
import { FILE_LIMITS, readUserText } from '../../user-file.js';
import { displayPath } from '../paths.js';
import { DEFAULT_SECRETS_PATH } from '../secrets.js';
import type { AppFiles, Report, RuleChecks } from './rule.js';
import { isPlaceholder, isSecretName, secretValueKind } from './secret-values.js';

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

function isSecretsFile(rel: string, secretsPath: string): boolean {
  const p = rel.split(path.sep).join('/');
  const base = secretsPath.replace(/^\.\//, '');
  return p === base || p.startsWith(`${base}-`) || p.startsWith(`${base}.`) || /^\.kamal\/secrets(?:[-.][^/]*)?$/.test(p);
}

function isEnvFile(rel: string): boolean {
  const name = path.basename(rel);
  return /^\.env(?:\.[^/]+)?$/.test(name) && !/\.(?:example|sample|template|dist|defaults?)$/i.test(name);
}

/** A dotenv value as written: true when it holds characters besides `$VAR`, `${VAR}` and `$(command)`. */
export function isLiteralDotenvValue(raw: string): boolean {
  let v = raw.trim();
  if (v === '') return false;
  if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) return !isPlaceholder(v.slice(1, -1)); // no expansion in single quotes
  if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
  // Command substitutions (with nested parentheses), then variables.
  let prev;
  do {
    prev = v;
    v = v.replace(/\$\([^()]*\)/g, '');
  } while (v !== prev);
  v = v.replace(/\$\{[A-Za-z0-9_]*\}|\$[A-Za-z0-9_]+/g, '').trim();
  return !isPlaceholder(v);
}

export const secretsTracked: RuleChecks = {
  async files(report: Report, app: AppFiles): Promise<string[]> {
    const { appRoot, cwd } = app;
    const secretsPath = app.config.secretsPath ?? DEFAULT_SECRETS_PATH;
    const tracked = await gitTrackedFiles(appRoot, app.env);
    if (!tracked.files) return [`secrets files tracked by git: ${tracked.skipped ?? 'skipped'}`];
    for (const rel of tracked.files) {
      const secretsFile = isSecretsFile(rel, secretsPath);
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
        if (!isLiteralDotenvValue(raw)) return;
        // In Kamal's secrets files every value is a secret; in .env files, those that look like one.
        const kind = secretValueKind(raw.replace(/^['"]|['"]$/g, ''));
        if (!secretsFile && !kind && !isSecretName(key)) return;
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
