/**
 * `kamal-gate policy init | check | explain | schema`: write a starter policy, validate one, show
 * which rules apply to an image and why, print the JSON Schema. Exit 0, or 2 for a policy that
 * does not load (every problem listed) or a usage error.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EXIT, UsageError } from '../errors.js';
import { PROJECT_POLICY } from '../policy/project.js';
import type { LoadedPolicy } from '../policy/types.js';
import { writeUserFile } from '../user-file.js';
import { policyCheckReport, policyExplainReport } from '../report/policy-models.js';
import type { Role } from '../types.js';
import type { Io } from './io.js';

/** The policy modules (zod, yaml) load when a policy command runs, not when the CLI starts. */
const policyModule = () => import('../policy/index.js');

export async function policyInitCommand(opts: { path: string; force?: boolean }, io: Io, cwd = io.cwd): Promise<number> {
  if (opts.path === '') throw new UsageError('--path needs a file name');
  const { shippedPolicyPath } = await policyModule();
  const target = resolve(cwd, opts.path);
  if (existsSync(target) && !opts.force) {
    throw new UsageError(`${opts.path} already exists; review it with \`kamal-gate policy check --policy ${opts.path}\`, or pass --force to overwrite it`);
  }
  const starter = await readFile(shippedPolicyPath('starter.yml'), 'utf8');
  await writeUserFile(target, starter, { flag: '--path', shown: opts.path, mkdirs: true });
  io.out(`wrote ${opts.path}: read it, adjust it, then run \`kamal-gate policy check${opts.path === PROJECT_POLICY ? '' : ` --policy ${opts.path}`}\`\n`);
  return EXIT.ok;
}

export async function policyCheckCommand(opts: { policy?: string; format: 'text' | 'json' }, io: Io, cwd = io.cwd, now = new Date()): Promise<number> {
  const { loadPolicy, renderCheck } = await policyModule();
  const loaded = await loadPolicy({ path: opts.policy, cwd });
  if (opts.format === 'json') io.out(JSON.stringify(policyCheckReport(loaded), null, 2) + '\n');
  else io.out(renderCheck({ ...loaded.policy, file: shown(loaded) }, now));
  return EXIT.ok;
}

export async function policyExplainCommand(ref: string, opts: { policy?: string; role: Role; format: 'text' | 'json' }, io: Io, cwd = io.cwd, now = new Date()): Promise<number> {
  const { exceptionsFor, loadPolicy, renderExplain, requirementsFor } = await policyModule();
  const loaded = await loadPolicy({ path: opts.policy, cwd });
  const eff = requirementsFor(loaded.policy, { ref, role: opts.role });
  const exceptions = exceptionsFor(loaded.policy, ref, now);
  if (opts.format === 'json') {
    io.out(JSON.stringify(policyExplainReport(loaded, eff, exceptions), null, 2) + '\n');
  } else io.out(renderExplain(shown(loaded), eff, exceptions));
  return EXIT.ok;
}

function shown(loaded: LoadedPolicy): string {
  return loaded.origin === 'builtin' ? `${loaded.policy.file} (the built-in baseline)` : loaded.policy.file;
}

export async function policySchemaCommand(io: Io): Promise<number> {
  const { policySchemaJson } = await policyModule();
  io.out(JSON.stringify(policySchemaJson(), null, 2) + '\n');
  return EXIT.ok;
}
