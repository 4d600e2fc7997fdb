/**
 * `kamal-gate ledger merge-driver install|uninstall`: registers the ledger merge driver with git.
 *
 * Two parts, as git splits them:
 * - the attribute lines, in `.gitattributes` at the repository root (to commit: it tells every clone
 *   the ledger has a merge driver) and in this clone's `.git/info/attributes` (so the driver applies
 *   on every branch, also those made before `.gitattributes` was committed: git reads attributes
 *   from the branch being merged into):
 *     .kamal/image-ledger.jsonl merge=kamal-gate-ledger
 *     .kamal/image-ledger.jsonl.checkpoint merge=kamal-gate-checkpoint
 * - the drivers, in this clone's git config (`.git/config`; git never shares it, so each clone runs
 *   install once; a clone without it merges the ledger as text, as before):
 *     merge.kamal-gate-ledger.driver = '<node>' '<…/dist/cli.js>' ledger merge-file %O %A %B %P
 *     merge.kamal-gate-checkpoint.driver = true
 *
 * The ledger driver names this very kamal-gate by absolute paths, the node executable and the CLI
 * script, each shell-quoted. Git runs drivers through `sh` with whatever PATH it was started with: a
 * GUI client or an IDE often has another PATH than the terminal, and a project's devDependency
 * (node_modules/.bin) is on no PATH at all. The absolute paths run the same kamal-gate, under the
 * same node, that installed the driver; the config is local to the clone, so paths of this machine
 * belong there. When they go away (node or kamal-gate moved or removed), the driver fails and git
 * leaves the ledger conflicted, as without the driver: run install again.
 *
 * The checkpoint driver is `true`: it keeps our side's checkpoint. The ledger merge keeps our
 * entries at their positions, so our checkpoint still covers a prefix of the merged ledger.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED, STANDALONE } from '../embedded.js';
import { UsageError } from '../errors.js';
import { parseLedgerLocation } from '../ledger/location.js';
import { DEFAULT_LEDGER } from './ledger-options.js';
import type { Io } from './io.js';

export const LEDGER_DRIVER = 'kamal-gate-ledger';
export const CHECKPOINT_DRIVER = 'kamal-gate-checkpoint';
const ATTRIBUTES = '.gitattributes';

function git(args: string[], cwd: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? 'git is not installed (or not on PATH): the merge driver is a git feature' : `cannot run git: ${r.error.message}`);
  }
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function gitOrFail(args: string[], cwd: string): string {
  const r = git(args, cwd);
  if (r.status !== 0) throw new UsageError(`git ${args.join(' ')} failed: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r.stdout;
}

/** Single-quoted for sh: safe whatever the path holds. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The driver command: this node and this kamal-gate's CLI script, by absolute path (see the top of the file). */
export function driverCommand(nodePath = process.execPath, script = ownScript()): string {
  return `${shellQuote(nodePath)} ${script === undefined ? '' : `${shellQuote(script)} `}ledger merge-file %O %A %B %P`;
}

/** This kamal-gate's CLI script: dist/cli.js, or the single-file build itself; none for the standalone binary, which is the CLI. */
function ownScript(): string | undefined {
  if (STANDALONE) return undefined;
  return fileURLToPath(BUNDLED ? import.meta.url : new URL('../cli.js', import.meta.url));
}

/**
 * A .gitattributes pattern matching exactly `rel` (a path from the repository root, `/`-separated):
 * glob characters escaped, anchored at the root, C-quoted when it holds white space or quotes.
 */
export function attributesPattern(rel: string): string {
  if (/[\u0000-\u001f\u007f]/.test(rel)) throw new UsageError(`the ledger path ${JSON.stringify(rel)} holds control characters: git attributes cannot name it`);
  let p = rel.replace(/[\\*?[\]!#]/g, '\\$&');
  if (!p.includes('/')) p = `/${p}`; // without a slash a pattern matches at any depth
  if (/[\s"]/.test(p)) p = `"${p.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return p;
}

interface Where {
  /** The repository root (git's realpath of it). */
  top: string;
  /** The ledger path from the root, `/`-separated. */
  rel: string;
  lines: [string, string];
}

/** A path with its existing part resolved through symbolic links, as git reports the root. */
function realish(abs: string): string {
  const rest: string[] = [];
  let p = abs;
  for (;;) {
    try {
      return join(realpathSync(p), ...rest.reverse());
    } catch {
      const parent = dirname(p);
      if (parent === p) return abs;
      rest.push(basename(p));
      p = parent;
    }
  }
}

function locate(opts: { ledger?: string }, cwd: string): Where {
  const ledger = opts.ledger ?? DEFAULT_LEDGER;
  if (opts.ledger !== undefined && parseLedgerLocation(opts.ledger, '--ledger').kind === 'postgres') {
    throw new UsageError('--ledger names a PostgreSQL ledger: only the file ledger is merged by git; give the ledger file path');
  }
  const inside = git(['rev-parse', '--show-toplevel'], cwd);
  if (inside.status !== 0 || !inside.stdout.trim()) {
    throw new UsageError(`${cwd} is not in a git work tree: run \`kamal-gate ledger merge-driver\` in the repository that holds the ledger`);
  }
  const top = realish(inside.stdout.trim());
  const abs = realish(resolve(cwd, ledger));
  const rel = relative(top, abs);
  if (!rel || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    throw new UsageError(`the ledger ${ledger} is not inside the git work tree ${top}: git merges only files of the repository`);
  }
  const slashed = rel.split(sep).join('/');
  return { top, rel: slashed, lines: [`${attributesPattern(slashed)} merge=${LEDGER_DRIVER}`, `${attributesPattern(`${slashed}.checkpoint`)} merge=${CHECKPOINT_DRIVER}`] };
}

function readAttributes(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new UsageError(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Replaces a small file atomically (temporary file + rename). */
function writeFileAtomically(file: string, text: string): void {
  const tmp = `${file}.kamal-gate.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 });
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // not created
    }
    throw new UsageError(`cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The clone's own attributes file (`.git/info/attributes`, or where git keeps it for this work tree). */
function infoAttributes(top: string): { file: string; shown: string } {
  const shown = gitOrFail(['rev-parse', '--git-path', 'info/attributes'], top).trim();
  return { file: resolve(top, shown), shown };
}

/** Appends the lines `file` does not have yet; says what it did under the name `shown`. */
function addLines(file: string, shown: string, lines: readonly string[], io: Io): void {
  const before = readAttributes(file);
  const present = new Set(before.split(/\r?\n/).map((l) => l.trim()));
  const missing = lines.filter((l) => !present.has(l));
  if (missing.length) {
    const sepNl = before && !before.endsWith('\n') ? '\n' : '';
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomically(file, `${before}${sepNl}${missing.join('\n')}\n`);
    io.out(`${shown}: added\n${missing.map((l) => `  ${l}\n`).join('')}`);
  } else io.out(`${shown}: already has the kamal-gate lines\n`);
}

/** Removes exactly `lines` from `file` (the file too when nothing else is left in it). */
function removeLines(file: string, shown: string, lines: readonly string[], io: Io): void {
  if (!existsSync(file)) return;
  const before = readAttributes(file);
  const ours = new Set(lines);
  const after = before
    .split('\n')
    .filter((l) => !ours.has(l.replace(/\r$/, '').trim()))
    .join('\n');
  if (after === before) return;
  if (after.trim() === '') {
    unlinkSync(file);
    io.out(`${shown}: removed (nothing else was in it)\n`);
  } else {
    writeFileAtomically(file, after);
    io.out(`${shown}: removed the kamal-gate lines\n`);
  }
}

export async function mergeDriverInstallCommand(opts: { ledger?: string }, io: Io, cwd = io.cwd): Promise<number> {
  const { top, rel, lines } = locate(opts, cwd);
  addLines(join(top, ATTRIBUTES), ATTRIBUTES, lines, io);
  const info = infoAttributes(top);
  addLines(info.file, info.shown, lines, io);

  const command = driverCommand();
  const settings: Array<[string, string]> = [
    [`merge.${LEDGER_DRIVER}.name`, "kamal-gate digest ledger: keep both branches' entries in one hash chain"],
    [`merge.${LEDGER_DRIVER}.driver`, command],
    [`merge.${CHECKPOINT_DRIVER}.name`, 'kamal-gate ledger checkpoint: keep ours (our ledger entries keep their positions)'],
    [`merge.${CHECKPOINT_DRIVER}.driver`, 'true'],
  ];
  for (const [key, value] of settings) gitOrFail(['config', '--local', key, value], top);
  io.out(`git config (this clone):\n${settings.map(([k, v]) => `  ${k} = ${v}\n`).join('')}`);

  const attr = git(['check-attr', 'merge', '--', rel], top).stdout.trim();
  if (!attr.endsWith(`: merge: ${LEDGER_DRIVER}`)) {
    io.err(`warning: git reports "${attr}" for ${rel}: another .gitattributes line (later, or in a subfolder) overrides ours; the driver is not used until that is fixed\n`);
  }
  if (/[\\/]_npx[\\/]/.test(command)) {
    io.err("warning: kamal-gate runs from npx's cache, which npm may clear: install it in the project (npm install --save-dev kamal-gate) and run `kamal-gate ledger merge-driver install` again\n");
  }
  io.out(
    `Commit ${ATTRIBUTES} (git add ${ATTRIBUTES}). The driver is this clone's git config: run \`kamal-gate ledger merge-driver install\` once in every clone that merges, and again if node or kamal-gate moves.\n`,
  );
  return 0;
}

export async function mergeDriverUninstallCommand(opts: { ledger?: string }, io: Io, cwd = io.cwd): Promise<number> {
  const { top, lines } = locate(opts, cwd);
  removeLines(join(top, ATTRIBUTES), ATTRIBUTES, lines, io);
  const info = infoAttributes(top);
  removeLines(info.file, info.shown, lines, io);
  for (const driver of [LEDGER_DRIVER, CHECKPOINT_DRIVER]) {
    const r = git(['config', '--local', '--remove-section', `merge.${driver}`], top);
    if (r.status === 0) io.out(`git config: removed merge.${driver}\n`);
  }
  io.out(`Commit the change to ${ATTRIBUTES}; other clones keep their driver config until they run uninstall too.\n`);
  return 0;
}
