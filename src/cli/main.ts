/**
 * The command line: argument parsing, the commands, and the mapping of failures to exit codes
 * (0 passed, 1 policy violation, 2 usage or config error, 3 could not verify). A user mistake never
 * prints a stack trace.
 */
import { Command, CommanderError } from 'commander';
import { EXIT, isKamalGateError } from '../errors.js';
import { printableLines } from '../printable.js';
import { redact } from '../redact.js';
import { VERSION } from '../version.js';
import { registerCommands } from './commands.js';
import { processIo, type Io } from './io.js';

// Start-up stays fast: this module and commands.ts load commander and the option table only; each
// action imports its command module (and so undici, zod, yaml, pg, @sigstore/*) when it runs.
// Keep static imports here and in commands.ts to light modules (no third-party package but commander).

/**
 * Runs one command line (`argv` as Node hands it over: node, script, arguments) against `given` (the real
 * process by default) and returns the exit code. Everything written is redacted of registered secrets.
 */
export async function main(argv: string[], given: Io = processIo()): Promise<number> {
  const io: Io = { ...given, out: (s) => given.out(redact(s)), err: (s) => given.err(redact(s)) };
  let exitCode: number = EXIT.ok;
  const program = new Command('kamal-gate')
    .description('Stops a bad container image before Kamal deploys it.')
    .version(VERSION, '-V, --version', 'print the kamal-gate version')
    .addHelpText('after', '\nExit codes: 0 passed, 1 policy violation, 2 usage or config error, 3 could not verify.')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showSuggestionAfterError(true);
  program.enablePositionalOptions();

  registerCommands(program, io, (code) => {
    exitCode = code;
  });

  if (argv.length <= 2) {
    io.out(program.helpInformation());
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.usage; // commander already printed the message
    }
    if (isKamalGateError(e)) {
      io.err(`kamal-gate: ${printableLines(e.message)}\n`);
      return e.exitCode;
    }
    const msg = e instanceof Error ? e.message : String(e);
    io.err(`kamal-gate: internal error: ${printableLines(msg)}\n(this is a bug in kamal-gate; the image was not verified)\n`);
    if (io.env['KAMAL_GATE_DEBUG'] && e instanceof Error && e.stack) io.err(`${e.stack}\n`);
    return EXIT.unverifiable;
  }
}
