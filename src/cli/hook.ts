/**
 * `kamal-gate hook install|uninstall`: Kamal's pre-deploy hook runs the gate.
 *
 * Kamal runs `.kamal/hooks/pre-deploy` from the app folder as `/usr/bin/env .kamal/hooks/pre-deploy`
 * after the image is pushed and pulled and before any container boots; a non-zero exit stops the
 * deploy. It sets KAMAL_VERSION (the version being deployed; the rollback target for `kamal
 * rollback`), KAMAL_DESTINATION when -d is given, and KAMAL_PERFORMER (which the CLI records as the
 * ledger actor). The hook hands those to `kamal-gate verify`, with `--erb ruby`: Kamal is a Ruby
 * program, so Ruby is there, and the deploy has just rendered the same config with it (`--command
 * "--erb safe"` comes later on the line and wins).
 *
 * The kamal-gate part is one block between marker lines, so install and uninstall touch nothing else:
 * - no hook yet: a new `#!/bin/sh` file (0755) holding the block;
 * - an existing shell hook: the block goes right after its `#!` line, so the gate runs first and the
 *   existing hook's own content (and its exit status) follows unchanged; removing the block restores
 *   the file byte for byte;
 * - an existing hook in another language (Kamal's own samples are Ruby) or a binary: it is moved,
 *   unchanged, to `pre-deploy.kamal-gate-original`, and a `#!/bin/sh` wrapper runs the gate and then
 *   execs it; uninstall moves it back.
 * Installing again with the same options leaves the file byte-identical. Nothing of the existing hook
 * is ever executed here: it is read as text only.
 *
 * Nothing is written outside the app unless the user names the folder (hook-files.ts): a hooks
 * folder that resolves outside the app needs `--dir`, and a `pre-deploy` that is a symbolic link,
 * a directory, a FIFO or anything but a regular file is refused (exit 2) rather than followed.
 */
import { mkdirSync, renameSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../errors.js';
import { checkHookFile, commitTemp, DEFAULT_HOOKS_DIR, hooksFolder, readHookFile, writeHookFile, writeTemp } from './hook-files.js';
import type { Io } from './io.js';

export const HOOK_NAME = 'pre-deploy';
export const BEGIN = '# >>> kamal-gate pre-deploy gate >>>';
export const END = '# <<< kamal-gate pre-deploy gate <<<';
export const ORIGINAL_SUFFIX = '.kamal-gate-original';
const CREATED_NOTE = '# (kamal-gate created this file: uninstall deletes it when nothing else is left in it)';
const WRAPPED_NOTE = `# (the hook that was here is ${HOOK_NAME}${ORIGINAL_SUFFIX}: it runs after the gate, and uninstall puts it back)`;

type Kind = 'created' | 'inserted' | 'wrapped';

export interface HookInstallOptions {
  dir?: string;
  command?: string;
}

/** The marked block; `extra` is shell text appended to the verify command line. */
export function hookBlock(kind: Kind, extra = ''): string {
  const lines = [
    BEGIN,
    '# Added by `kamal-gate hook install`; `kamal-gate hook uninstall` removes exactly this block. Do not edit inside it.',
    '# Verifies every image of this deploy (KAMAL_VERSION, KAMAL_DESTINATION) before Kamal boots it: a failure stops the deploy.',
    '# kamal-gate is $KAMAL_GATE_BIN when set, else ./node_modules/.bin/kamal-gate, else kamal-gate on PATH.',
  ];
  if (kind === 'created') lines.push(CREATED_NOTE);
  if (kind === 'wrapped') lines.push(WRAPPED_NOTE);
  lines.push(
    '(',
    '  if [ -n "${KAMAL_GATE_BIN:-}" ]; then kamal_gate="$KAMAL_GATE_BIN"',
    '  elif [ -x ./node_modules/.bin/kamal-gate ]; then kamal_gate=./node_modules/.bin/kamal-gate',
    '  elif command -v kamal-gate >/dev/null 2>&1; then kamal_gate=kamal-gate',
    '  else',
    '    echo "kamal-gate pre-deploy hook: kamal-gate not found (looked at \\$KAMAL_GATE_BIN, ./node_modules/.bin/kamal-gate and PATH). Install it (npm install --save-dev kamal-gate) or set KAMAL_GATE_BIN. The deploy is stopped." >&2',
    '    exit 127',
    '  fi',
    '  if [ -z "${KAMAL_VERSION:-}" ]; then',
    '    echo "kamal-gate pre-deploy hook: KAMAL_VERSION is not set (kamal sets it when it runs this hook). The deploy is stopped." >&2',
    '    exit 2',
    '  fi',
    `  exec "$kamal_gate" verify --hosts --erb ruby --version "$KAMAL_VERSION" \${KAMAL_DESTINATION:+-d "$KAMAL_DESTINATION"}${extra ? ` ${extra}` : ''}`,
    ') || exit $?',
  );
  if (kind === 'wrapped') lines.push(`exec "$(dirname "$0")/${HOOK_NAME}${ORIGINAL_SUFFIX}" "$@"`);
  lines.push(END);
  return lines.join('\n') + '\n';
}

interface Located {
  before: string;
  block: string;
  after: string;
  kind: Kind;
}

/** Finds the block; undefined when there is none; an error when the markers are damaged. */
export function findBlock(text: string, file: string): Located | undefined {
  const begin = text.indexOf(`${BEGIN}\n`);
  const hasBegin = begin === 0 || (begin > 0 && text[begin - 1] === '\n');
  const endAt = text.indexOf(`\n${END}\n`, hasBegin ? begin : 0);
  if (!hasBegin && endAt < 0) {
    if (text.includes(BEGIN) || text.includes(END)) throw new UsageError(`${file}: the kamal-gate block's marker lines were edited; restore them or remove the block by hand`);
    return undefined;
  }
  if (!hasBegin || endAt < 0) throw new UsageError(`${file}: the kamal-gate block is damaged (one of its marker lines "${BEGIN}" / "${END}" is missing); remove what is left of it by hand`);
  const stop = endAt + END.length + 2;
  const block = text.slice(begin, stop);
  const kind: Kind = block.includes(`\n${CREATED_NOTE}\n`) ? 'created' : block.includes(`\n${WRAPPED_NOTE}\n`) ? 'wrapped' : 'inserted';
  return { before: text.slice(0, begin), block, after: text.slice(stop), kind };
}

/** Whether the hook is a POSIX-shell script the block can go into (a `#!` naming a shell, or text with no `#!`, which env runs with /bin/sh). */
export function isShellScript(content: Buffer): boolean {
  if (content.includes(0)) return false;
  const text = content.toString('utf8');
  if (!text.startsWith('#!')) return true;
  const first = text.split('\n', 1)[0]!;
  return /^#!\s*(?:\S*\/)?(?:env\s+(?:-S\s+)?)?(?:\S*\/)?(?:sh|bash|dash|ash|ksh|mksh|zsh)(?:\s|$)/.test(first);
}

/** Puts the block right after the `#!` line (or first, with no `#!` line). */
function insertBlock(text: string, block: string): string {
  if (!text.startsWith('#!')) return block + text;
  const nl = text.indexOf('\n');
  if (nl < 0) return `${text}\n${block}`;
  return text.slice(0, nl + 1) + block + text.slice(nl + 1);
}

function hookPaths(opts: { dir?: string }, cwd: string): { dir: string; file: string; original: string; shown: string; shownOriginal: string } {
  const dir = hooksFolder(cwd, opts.dir);
  const file = join(dir, HOOK_NAME);
  const shown = join(opts.dir ?? DEFAULT_HOOKS_DIR, HOOK_NAME);
  return { dir, file, original: file + ORIGINAL_SUFFIX, shown, shownOriginal: shown + ORIGINAL_SUFFIX };
}

function checkExtra(extra: string | undefined): string {
  const s = (extra ?? '').trim();
  if (/[\r\n\0]/.test(s)) throw new UsageError('--command: give the extra verify arguments on one line');
  if (s.includes(BEGIN) || s.includes(END)) throw new UsageError('--command: must not contain the block markers');
  return s;
}

export async function hookInstallCommand(opts: HookInstallOptions, io: Io, cwd = io.cwd): Promise<number> {
  const extra = checkExtra(opts.command);
  const { dir, file, original, shown, shownOriginal } = hookPaths(opts, cwd);
  mkdirSync(dir, { recursive: true });
  const existing = readHookFile(file, shown);
  if (!existing) {
    writeHookFile(file, `#!/bin/sh\n${hookBlock('created', extra)}`, 0o755);
    io.out(`installed ${shown}: kamal deploy now runs kamal-gate verify before it boots the new version\n`);
  } else {
    const { content, mode } = existing;
    const text = content.toString('utf8');
    const found = isShellScript(content) ? findBlock(text, shown) : undefined;
    if (found) {
      const next = found.before + hookBlock(found.kind, extra) + found.after;
      if (next === text && (mode & 0o111) === 0o111) {
        io.out(`${shown} already runs kamal-gate; nothing changed\n`);
        return 0;
      }
      writeHookFile(file, next, mode | 0o111);
      io.out(`updated the kamal-gate block in ${shown}\n`);
    } else if (isShellScript(content)) {
      writeHookFile(file, insertBlock(text, hookBlock('inserted', extra)), mode | 0o111);
      io.out(`added kamal-gate to the existing ${shown}: the gate runs first, then the hook's own commands; either failing stops the deploy\n`);
    } else {
      if (checkHookFile(original, shownOriginal)) throw new UsageError(`${shown} is not a shell script and ${basename(original)} already exists; move one of them away and run again`);
      // The wrapper is written first, so the hook is missing only between two renames.
      const tmp = writeTemp(file, `#!/bin/sh\n${hookBlock('wrapped', extra)}`, 0o755);
      try {
        renameSync(file, original);
      } catch (e) {
        unlinkSync(tmp);
        throw e;
      }
      commitTemp(tmp, file);
      io.out(`${shown} is not a shell script: it is now ${basename(original)} (unchanged), run by a new ${shown} after the gate; either failing stops the deploy\n`);
    }
  }
  io.out('note: `kamal deploy -H` (--skip-hooks) skips every hook; keep `kamal-gate verify` in CI as well\n');
  return 0;
}

export async function hookUninstallCommand(opts: { dir?: string }, io: Io, cwd = io.cwd): Promise<number> {
  const { file, original, shown, shownOriginal } = hookPaths(opts, cwd);
  const existing = readHookFile(file, shown);
  if (!existing) {
    io.out(`${shown} does not exist; nothing to remove\n`);
    return 0;
  }
  const text = existing.content.toString('utf8');
  const found = isShellScript(existing.content) ? findBlock(text, shown) : undefined;
  if (!found) {
    io.out(`${shown} has no kamal-gate block; nothing changed\n`);
    return 0;
  }
  const rest = found.before + found.after;
  const onlyShebang = rest.trim() === '#!/bin/sh';
  if (found.kind === 'wrapped' && onlyShebang && checkHookFile(original, shownOriginal)) {
    renameSync(original, file);
    io.out(`removed kamal-gate from ${shown} and put the original hook back\n`);
  } else if (found.kind === 'created' && onlyShebang) {
    unlinkSync(file);
    io.out(`removed ${shown} (kamal-gate had created it)\n`);
  } else {
    writeHookFile(file, rest, existing.mode);
    io.out(`removed the kamal-gate block from ${shown}; the rest of the hook is unchanged\n`);
  }
  return 0;
}
