/**
 * Everything a command touches of the process it runs in: output, environment, working folder,
 * standard input and signals. `processIo()` is the real process (src/cli.ts); tests build their own
 * to run the CLI in-process (`runCli` in test/helpers/cli.ts). Commands read these, never `process.*`.
 */
import module from 'node:module';
import { isatty } from 'node:tty';
import { setFlagsFromString } from 'node:v8';
import { Readable } from 'node:stream';

export interface Stdin {
  /** Whether standard input is a terminal (nothing piped in). */
  isTTY: boolean;
  /** The bytes piped in. */
  chunks(): AsyncIterable<Buffer>;
}

type Signal = 'SIGTERM' | 'SIGINT';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** The folder relative paths (options, the default Kamal config, the default ledger) are read against. */
  cwd: string;
  /** Whether stderr is a terminal (progress is shown only there). */
  isTty: boolean;
  /** Whether stdout is a terminal (text output is coloured only there); absent: it is not. */
  outIsTty?: boolean;
  stdin: Stdin;
  /** Calls `handler` once on the first of each of `signals` (a second one acts as if unhandled) until the returned function is called. */
  onSignal: (signals: readonly Signal[], handler: () => void) => () => void;
}

/**
 * A writer for one of the process's output streams. When the reader has gone (`kamal-gate … | head`:
 * EPIPE), output stops quietly: what follows is dropped, the command runs on and the process ends
 * with the command's own exit code, not an 'Unhandled error' stack trace.
 */
function streamWriter(stream: NodeJS.WriteStream): (s: string) => void {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') closed = true;
    else throw e;
  });
  return (s) => {
    if (!closed) stream.write(s);
  };
}

/** The real process: its streams, environment, folder and signals. */
export function processIo(): Io {
  return {
    out: streamWriter(process.stdout),
    err: streamWriter(process.stderr),
    env: process.env,
    cwd: process.cwd(),
    isTty: Boolean(process.stderr.isTTY),
    outIsTty: Boolean(process.stdout.isTTY),
    // process.stdin is made (a stream on fd 0, ~3 ms) only when a command reads it.
    stdin: {
      isTTY: isatty(0),
      chunks: () => process.stdin as AsyncIterable<Buffer>,
    },
    onSignal: (signals, handler) => {
      for (const s of signals) process.once(s, handler);
      return () => {
        for (const s of signals) process.off(s, handler);
      };
    },
  };
}

/** Standard input holding `text` (or nothing), as a pipe: for an in-process run. */
export function stdinOf(text: string | undefined): Stdin {
  return {
    isTTY: false,
    chunks: () => Readable.from(text === undefined || text === '' ? [] : [Buffer.from(text)]) as AsyncIterable<Buffer>,
  };
}

/**
 * Ends the process with the command's exit code as soon as what it wrote has gone out. Left to end
 * on its own, Node first finishes every compile job queued in the background (optimising code that
 * was hot, tiering up undici's WebAssembly HTTP parser), none of which matters once the command has
 * answered; it kept a finished verify waiting tens of milliseconds, on a busy machine hundreds.
 * Node's compile cache, which it would write at exit, is written first.
 */
export function exitWhenWritten(code: number): void {
  process.exitCode = code;
  (module as { flushCompileCache?: () => void }).flushCompileCache?.();
  let waiting = 2;
  const written = (): void => {
    if (--waiting === 0) process.exit(code);
  };
  // An empty write's callback runs once everything written before it has been handed on.
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.destroyed || !stream.writable) written();
    else stream.write('', written);
  }
}

/**
 * V8 settings for a process that runs one command: undici's WebAssembly HTTP parser is compiled by
 * the baseline compiler only. Optimising it took a background thread 50–350 ms per run (measured
 * under strace, output to exit), which the process then waited for before it could exit, and which
 * competed with the command for the CPU. Called first thing, before any WebAssembly is compiled.
 */
export function commandProcessFlags(): void {
  setFlagsFromString('--liftoff-only');
}
