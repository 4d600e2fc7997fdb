/**
 * What `verify` writes beside the format it prints: the JSON report and SARIF log to files
 * (`--json-output`, `--sarif-output`, so one run feeds annotations, a report and code scanning), and a
 * SARIF log when it stops on an error (a config, usage or policy error, or a bug): printed with
 * `--format sarif` and written to `--sarif-output`, so code scanning shows the cause instead of
 * refusing an empty file.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, isKamalGateError, UsageError } from '../errors.js';
import { printableLines } from '../printable.js';
import { redact } from '../redact.js';
import type { VerifyReport } from '../report/model.js';
import { renderErrorSarif, renderVerifySarif, type RunError } from '../report/sarif.js';
import { DEFAULT_CONFIG_FILE } from '../kamal/index.js';
import { VERSION } from '../version.js';
import type { Io } from './io.js';

export interface ReportFileFlags {
  jsonOutput?: string;
  sarifOutput?: string;
}

function write(path: string, text: string, io: Io, flag: string): void {
  try {
    writeFileSync(resolve(io.cwd, path), redact(text));
  } catch (e) {
    throw new UsageError(`could not write ${flag} ${path}: ${(e as Error).message}; name a file in a folder that exists and is writable`);
  }
}

/** Writes the report to the files `--json-output` and `--sarif-output` name. */
export function writeReportFiles(report: VerifyReport, flags: ReportFileFlags, io: Io): void {
  if (flags.jsonOutput) write(flags.jsonOutput, JSON.stringify(report, null, 2) + '\n', io, '--json-output');
  if (flags.sarifOutput) write(flags.sarifOutput, renderVerifySarif(report, { cwd: io.cwd }), io, '--sarif-output');
}

function runError(e: unknown): RunError {
  if (!isKamalGateError(e))
    return { kind: 'internal', message: `internal error: ${printableLines(e instanceof Error ? e.message : String(e))} (a bug in kamal-gate; the images were not verified)`, exitCode: 3 };
  const error: RunError = { kind: e.kind, message: printableLines(e.message), exitCode: e.exitCode };
  if (e instanceof ConfigError && e.file) {
    error.file = e.file;
    if (e.line) error.line = e.line;
    if (e.column) error.column = e.column;
  }
  return error;
}

/**
 * `verify` stopped on `e` before it had a report: a SARIF log with the error as its one result, on
 * standard output with `--format sarif` and in the `--sarif-output` file. The caller still reports
 * `e` (message on stderr, exit code) as for any other command.
 */
export function reportRunError(e: unknown, opts: ReportFileFlags & { format: string; configFile?: string }, io: Io): void {
  if (opts.format !== 'sarif' && !opts.sarifOutput) return;
  const sarif = renderErrorSarif(runError(e), { cwd: io.cwd, version: VERSION, configFile: opts.configFile ?? DEFAULT_CONFIG_FILE });
  if (opts.format === 'sarif') io.out(sarif);
  if (opts.sarifOutput) {
    try {
      write(opts.sarifOutput, sarif, io, '--sarif-output');
    } catch (w) {
      io.err(`warning: ${(w as Error).message}\n`);
    }
  }
}
