/**
 * Everything a command touches of the process it runs in: output, environment, working folder,
 * standard input and signals. `processIo()` is the real process (src/cli.ts); tests build their own
 * to run the CLI in-process (`runCli` in test/helpers/cli.ts). Commands read these, never `process.*`.
 */
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
  stdin: Stdin;
  /** Calls `handler` once on the first of each of `signals` (a second one acts as if unhandled) until the returned function is called. */
  onSignal: (signals: readonly Signal[], handler: () => void) => () => void;
}

/** The real process: its streams, environment, folder and signals. */
export function processIo(): Io {
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    env: process.env,
    cwd: process.cwd(),
    isTty: Boolean(process.stderr.isTTY),
    stdin: {
      isTTY: Boolean(process.stdin.isTTY),
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
