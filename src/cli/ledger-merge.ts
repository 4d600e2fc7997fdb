/**
 * `kamal-gate ledger merge-driver install|uninstall` and `kamal-gate ledger merge-file`: git merges of
 * the file ledger (src/ledger/merge.ts). Only the command definitions live here, so the CLI starts
 * without loading the ledger: each action imports its module when it runs.
 */
import type { Command } from 'commander';
import type { Io } from './main.js';

const LEDGER_FLAG = '--ledger <path>';
const LEDGER_FLAG_HELP = 'the ledger file, from the current folder (default .kamal/image-ledger.jsonl); it must be inside the git work tree';

export function registerLedgerMergeCommands(ledgerCmd: Command, io: Io, setExitCode: (code: number) => void): void {
  ledgerCmd
    .command('merge-file')
    .argument('<base>', "the common ancestor's ledger (git's %O)")
    .argument('<ours>', 'our ledger, replaced by the merged ledger (git\'s %A)')
    .argument('<theirs>', "their ledger (git's %B)")
    .argument('[path]', "the ledger's path in the repository, for messages (git's %P)")
    .option('--keep-conflicts', 'merge even when both branches decided a tag differently (theirs then comes last); for resolving a conflict by hand')
    .description('merge two versions of the file ledger into OURS, keeping every entry of both in one chain (what the git merge driver runs)')
    .addHelpText(
      'after',
      '\nExit codes: 0 merged, 1 both branches approved different digests for a tag (OURS untouched), 2 a version is unreadable or does not verify.\n' +
        '\nExample (what git runs after `kamal-gate ledger merge-driver install`):\n  kamal-gate ledger merge-file %O %A %B %P',
    )
    .action(async (base: string, ours: string, theirs: string, path: string | undefined, opts: { keepConflicts?: boolean }) => {
      setExitCode(await (await import('./ledger-merge-file.js')).ledgerMergeFileCommand({ base, ours, theirs, path, keepConflicts: opts.keepConflicts === true }, io));
    });

  const driver = ledgerCmd.command('merge-driver').description('let git merge the file ledger of two branches instead of leaving a conflict');
  driver
    .command('install')
    .option(LEDGER_FLAG, LEDGER_FLAG_HELP)
    .description('register the ledger merge driver: a .gitattributes line for the ledger (and its checkpoint) and the driver in this clone\'s git config')
    .addHelpText(
      'after',
      '\nCommit .gitattributes; run this once in every clone that merges (the driver itself is local git config, never committed).\n' +
        '\nExample:\n  kamal-gate ledger merge-driver install && git add .gitattributes',
    )
    .action(async (opts: { ledger?: string }) => {
      setExitCode(await (await import('./merge-driver.js')).mergeDriverInstallCommand(opts, io));
    });
  driver
    .command('uninstall')
    .option(LEDGER_FLAG, LEDGER_FLAG_HELP)
    .description('remove the lines install added to .gitattributes and the driver from this clone\'s git config')
    .addHelpText('after', '\nExample:\n  kamal-gate ledger merge-driver uninstall')
    .action(async (opts: { ledger?: string }) => {
      setExitCode(await (await import('./merge-driver.js')).mergeDriverUninstallCommand(opts, io));
    });
}
