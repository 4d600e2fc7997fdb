/**
 * `kamal-gate policy init | check | explain | schema`: write a starter policy, validate one, show
 * which rules apply to an image and why, print the JSON Schema. Exit 0, or 2 for a policy that
 * does not load (every problem listed) or a usage error.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { EXIT, KamalGateError, UsageError } from '../errors.js';
import { PROJECT_POLICY } from '../policy/project.js';
import type { LoadedPolicy } from '../policy/types.js';
import { writeUserFile } from '../user-file.js';
import { policyCheckReport, policyExplainReport } from '../report/policy-models.js';
import type { Role, Target } from '../types.js';
import { parseReference, repositoryName } from '../registry/reference.js';
import { loadTargets, type TargetOptions } from './context.js';
import type { Io } from './io.js';

/** The schema file `policy init` writes beside the policy, named by the starter's `$schema` line. */
const STARTER_SCHEMA = 'gate-policy.schema.json';

/** The policy modules (zod, yaml) load when a policy command runs, not when the CLI starts. */
const policyModule = () => import('../policy/index.js');

export async function policyInitCommand(opts: { path: string; force?: boolean }, io: Io, cwd = io.cwd): Promise<number> {
  if (opts.path === '') throw new UsageError('--path needs a file name');
  const { embeddedPolicy, policySchemaJson, shippedPolicyPath } = await policyModule();
  const target = resolve(cwd, opts.path);
  if (existsSync(target) && !opts.force) {
    throw new UsageError(`${opts.path} already exists; review it with \`kamal-gate policy check --policy ${opts.path}\`, or pass --force to overwrite it`);
  }
  const starterPath = shippedPolicyPath('starter.yml');
  const starter = embeddedPolicy(starterPath) ?? (await readFile(starterPath, 'utf8'));
  await writeUserFile(target, starter, { flag: '--path', shown: opts.path, mkdirs: true });
  // The starter's `$schema` names this file beside it: it works however kamal-gate is installed
  // (globally, in node_modules, as the binary), offline, and it is the schema of the version that
  // wrote it. Generated, so always rewritten (`kamal-gate policy schema` prints the same).
  await writeUserFile(join(dirname(target), STARTER_SCHEMA), JSON.stringify(policySchemaJson(), null, 2) + '\n', { flag: '--path', shown: join(dirname(opts.path), STARTER_SCHEMA) });
  io.out(
    `wrote ${opts.path} (and ${STARTER_SCHEMA} beside it, the JSON Schema editors check it against): read it, adjust it, then run \`kamal-gate policy check${opts.path === PROJECT_POLICY ? '' : ` --policy ${opts.path}`}\`\n`,
  );
  return EXIT.ok;
}

export async function policyCheckCommand(opts: { policy?: string; format: 'text' | 'json' }, io: Io, cwd = io.cwd, now = new Date()): Promise<number> {
  const { loadPolicy, renderCheck } = await policyModule();
  const loaded = await loadPolicy({ path: opts.policy, cwd });
  if (opts.format === 'json') io.out(JSON.stringify(policyCheckReport(loaded), null, 2) + '\n');
  else io.out(renderCheck({ ...loaded.policy, file: shown(loaded) }, now));
  return EXIT.ok;
}

/**
 * The role REF has in the Kamal config (the first target of the same repository), when there is a
 * config: `-c`, or config/deploy.yml in the working folder. Read without the network.
 */
async function roleInConfig(ref: string, opts: TargetOptions, io: Io): Promise<{ role: Role; source?: string } | undefined> {
  const named = opts.configFile !== undefined || opts.destination !== undefined;
  if (!named && !existsSync(resolve(io.cwd, 'config/deploy.yml'))) return undefined;
  const repository = repositoryName(parseReference(ref));
  let targets: Target[];
  try {
    ({ targets } = await loadTargets([], opts, io));
  } catch (e) {
    // A config named with -c/-d must load; the one merely found in the folder only informs.
    if (named || !(e instanceof KamalGateError)) throw e;
    io.err(`kamal-gate: note: the role is not taken from config/deploy.yml, which does not load (${e.message}); role app assumed; give --role to choose\n`);
    return undefined;
  }
  const t = targets.find((t) => repositoryName(parseReference(t.ref)) === repository);
  return t && { role: t.role, ...(t.source ? { source: `${t.source.file}:${t.source.line}` } : {}) };
}

export async function policyExplainCommand(
  ref: string,
  opts: TargetOptions & { policy?: string; role: Role; format: 'text' | 'json'; roleGiven: boolean },
  io: Io,
  cwd = io.cwd,
  now = new Date(),
): Promise<number> {
  const { exceptionsFor, loadPolicy, renderExplain, requirementsFor } = await policyModule();
  const loaded = await loadPolicy({ path: opts.policy, cwd });
  // --role wins; else the role the image has in the deploy; else app.
  const found = opts.roleGiven ? undefined : await roleInConfig(ref, opts, io);
  const eff = requirementsFor(loaded.policy, { ref, role: found?.role ?? opts.role });
  const exceptions = exceptionsFor(loaded.policy, ref, now);
  if (opts.format === 'json') {
    io.out(JSON.stringify(policyExplainReport(loaded, eff, exceptions), null, 2) + '\n');
  } else io.out(renderExplain(shown(loaded), eff, exceptions, found ? `from the Kamal config${found.source ? `, ${found.source}` : ''}` : undefined));
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
