/**
 * Finding and reading the policy: `--policy PATH`, else `.kamal/gate-policy.yml` under the working
 * folder when present, else the built-in baseline shipped in `policies/`. A policy with any problem
 * is refused as a whole, with every problem listed (file:line:column, key path, what is wrong).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED, EMBEDDED } from '../embedded.js';
import { PolicyError } from '../errors.js';
import { FILE_LIMITS, readUserText } from '../user-file.js';
import { PROJECT_POLICY } from './project.js';
import type { LoadedPolicy, Policy } from './types.js';

export { PROJECT_POLICY } from './project.js';

/** The shipped policies, found relative to this module: src/policy/ under vitest, dist/policy/ when installed, dist/kamal-gate.mjs in the single-file build. */
export function shippedPolicyPath(name: 'baseline.yml' | 'strict.yml' | 'starter.yml' | 'schema.json'): string {
  return fileURLToPath(new URL(`${BUNDLED ? '..' : '../..'}/policies/${name}`, import.meta.url));
}

/** A shipped policy file's text when `path` is one and this build embeds them (the single-file build and the binary have no policies/ beside them). */
export function embeddedPolicy(path: string): string | undefined {
  for (const name of ['baseline.yml', 'strict.yml', 'starter.yml', 'schema.json'] as const) {
    if (path === shippedPolicyPath(name)) return EMBEDDED[`policies/${name}`];
  }
  return undefined;
}

/**
 * A shipped policy as the single-file build carries it: already parsed, checked and compiled when
 * the build was made (scripts/bundle.mjs, from the same text), so a run under it loads neither the
 * YAML parser for it nor zod. Anywhere else undefined, and the text is parsed.
 */
function precompiled(path: string): Policy | undefined {
  for (const name of ['baseline', 'strict'] as const) {
    const json = path === shippedPolicyPath(`${name}.yml`) ? EMBEDDED[`policies/${name}.compiled.json`] : undefined;
    if (json !== undefined) return JSON.parse(json) as Policy;
  }
  return undefined;
}

/** `--policy NAME` for the shipped policies. */
const SHIPPED_NAMES: Record<string, 'baseline.yml' | 'strict.yml'> = { baseline: 'baseline.yml', strict: 'strict.yml' };

export async function loadPolicy(opts: { path?: string; cwd: string }): Promise<LoadedPolicy> {
  let path: string;
  let origin: LoadedPolicy['origin'];
  const shipped = opts.path !== undefined && Object.hasOwn(SHIPPED_NAMES, opts.path) ? SHIPPED_NAMES[opts.path] : undefined;
  if (shipped !== undefined) {
    // A bare `strict` / `baseline` (no slash, no .yml) names the shipped policy, whatever the folder holds.
    path = shippedPolicyPath(shipped);
    origin = 'explicit';
  } else if (opts.path !== undefined) {
    path = resolve(opts.cwd, opts.path);
    origin = 'explicit';
  } else if (existsSync(resolve(opts.cwd, PROJECT_POLICY))) {
    path = resolve(opts.cwd, PROJECT_POLICY);
    origin = 'project';
  } else {
    path = shippedPolicyPath('baseline.yml');
    origin = 'builtin';
  }
  // An embedded policy has no file a user could open where its path points: named as what it is.
  const shown = embeddedPolicy(path) === undefined ? display(path, opts.cwd) : `built-in policies/${basename(path)}`;
  let text: string;
  try {
    text =
      embeddedPolicy(path) ??
      (await readUserText(path, {
        limit: FILE_LIMITS.yaml,
        what: 'a policy',
        refuse: (message) => new PolicyError('cannot read the policy', [{ file: shown, message }]),
      }));
  } catch (e) {
    if (e instanceof PolicyError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (e as Error).message;
    const hint = code === 'ENOENT' ? ' (`kamal-gate policy init` writes a starter)' : '';
    throw new PolicyError('cannot read the policy', [{ file: shown, message: `${why}${hint}` }], { cause: e });
  }
  return { policy: precompiled(path) ?? (await import('./parse.js')).parsePolicy(text, shown, { dir: dirname(path) }), origin, path };
}

/** A path as shown to the user: relative to the working folder when inside it. */
function display(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}
