/**
 * `kamal-gate policy init | check | explain | schema`: write a starter policy, validate one, show
 * which rules apply to an image and why, print the JSON Schema. Exit 0, or 2 for a policy that
 * does not load (every problem listed) or a usage error.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { EXIT, UsageError } from '../errors.js';
import { PROJECT_POLICY } from '../policy/project.js';
import type { LoadedPolicy } from '../policy/types.js';
import type { Role } from '../types.js';
import type { Io } from './main.js';

/** `--policy PATH`, for every command that decides under a policy. */
export function addPolicyOption(cmd: Command): Command {
  return cmd.option('--policy <path>', `policy file (default: ${PROJECT_POLICY} when present, else the built-in baseline)`);
}

function formatOption(): Option {
  return new Option('--format <format>', 'output format').choices(['text', 'json']).default('text');
}

/** The policy modules (zod, yaml) load when a policy command runs, not when the CLI starts. */
const policyModule = () => import('../policy/index.js');

export async function policyInitCommand(opts: { path: string; force?: boolean }, io: Io, cwd = process.cwd()): Promise<number> {
  const { shippedPolicyPath } = await policyModule();
  const target = resolve(cwd, opts.path);
  if (existsSync(target) && !opts.force) {
    throw new UsageError(`${opts.path} already exists; review it with \`kamal-gate policy check --policy ${opts.path}\`, or pass --force to overwrite it`);
  }
  const starter = await readFile(shippedPolicyPath('starter.yml'), 'utf8');
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, starter);
  io.out(`wrote ${opts.path}: read it, adjust it, then run \`kamal-gate policy check${opts.path === PROJECT_POLICY ? '' : ` --policy ${opts.path}`}\`\n`);
  return EXIT.ok;
}

export async function policyCheckCommand(opts: { policy?: string; format: 'text' | 'json' }, io: Io, cwd = process.cwd(), now = new Date()): Promise<number> {
  const { loadPolicy, renderCheck } = await policyModule();
  const loaded = await loadPolicy({ path: opts.policy, cwd });
  if (opts.format === 'json') io.out(JSON.stringify({ schema: 'kamal-gate/policy-check/v1', valid: true, origin: loaded.origin, policy: loaded.policy }, null, 2) + '\n');
  else io.out(renderCheck({ ...loaded.policy, file: shown(loaded) }, now));
  return EXIT.ok;
}

export async function policyExplainCommand(ref: string, opts: { policy?: string; role: Role; format: 'text' | 'json' }, io: Io, cwd = process.cwd(), now = new Date()): Promise<number> {
  const { exceptionsFor, loadPolicy, renderExplain, requirementsFor } = await policyModule();
  const loaded = await loadPolicy({ path: opts.policy, cwd });
  const eff = requirementsFor(loaded.policy, { ref, role: opts.role });
  const exceptions = exceptionsFor(loaded.policy, ref, now);
  if (opts.format === 'json') {
    io.out(JSON.stringify({ schema: 'kamal-gate/policy-explain/v1', policy: loaded.policy.file, origin: loaded.origin, ...eff, exceptions }, null, 2) + '\n');
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

/** Registers the `policy` command group; `setExit` receives each command's exit code. */
export function registerPolicyCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const policy = program.command('policy').description('write, check and explain the policy images are verified against');

  policy
    .command('init')
    .option('--path <path>', 'where to write the policy', PROJECT_POLICY)
    .option('--force', 'overwrite an existing file')
    .description('write a commented starter policy (the baseline, with every other setting shown commented out)')
    .addHelpText('after', '\nExamples:\n  kamal-gate policy init\n  kamal-gate policy init --path config/gate-policy.yml --force')
    .action(async (opts: { path: string; force?: boolean }) => {
      if (opts.path === '') throw new UsageError('--path needs a file name');
      setExit(await policyInitCommand(opts, io));
    });

  addPolicyOption(policy.command('check'))
    .addOption(formatOption())
    .description('validate a policy, listing every problem with file:line:column, and summarize its rules and exceptions (exit 0, or 2)')
    .addHelpText('after', '\nExamples:\n  kamal-gate policy check\n  kamal-gate policy check --policy policies/strict.yml')
    .action(async (opts: { policy?: string; format: 'text' | 'json' }) => {
      setExit(await policyCheckCommand(opts, io));
    });

  addPolicyOption(policy.command('explain').argument('<ref>', 'image reference (normalized as docker does: redis → docker.io/library/redis)'))
    .addOption(new Option('--role <role>', 'the role the image has in the deploy').choices(['app', 'accessory', 'proxy']).default('app'))
    .addOption(formatOption())
    .description('show which rules apply to an image and why, and what it must satisfy, with the line that set each requirement')
    .addHelpText('after', '\nExamples:\n  kamal-gate policy explain ghcr.io/acme/app:v42\n  kamal-gate policy explain redis:7.4 --role accessory --policy policies/strict.yml')
    .action(async (ref: string, opts: { policy?: string; role: Role; format: 'text' | 'json' }) => {
      setExit(await policyExplainCommand(ref, opts, io));
    });

  policy
    .command('schema')
    .description('print the JSON Schema (draft 2020-12) of the policy file, for editors and CI')
    .addHelpText('after', '\nExample:\n  kamal-gate policy schema > policies/schema.json')
    .action(async () => {
      setExit(await policySchemaCommand(io));
    });
}
