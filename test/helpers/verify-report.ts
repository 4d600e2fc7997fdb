/** `kamal-gate verify --format json` through the real CLI, and the shape of its report the tests read. */
import { runCli } from './cli.js';

interface ReportFinding {
  rule: string;
  severity: string;
  fails: boolean;
  mode: string;
  message: string;
  setBy?: { rule: string };
  evidence?: Record<string, unknown>;
}

export interface VerifyReport {
  exitCode: number;
  images: Array<{ ref: string; status: string; digest?: string; findings?: ReportFinding[]; error?: { kind: string; message: string } }>;
  stats?: Record<string, { requests: number }>;
}

/** Runs `verify … --format json`; a usage error prints no report, which reads as one with no images. */
export async function verifyReport(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; report: VerifyReport; stderr: string }> {
  const r = await runCli(['verify', ...args, '--format', 'json'], opts);
  let report: VerifyReport = { exitCode: -1, images: [] };
  try {
    report = JSON.parse(r.stdout) as VerifyReport;
  } catch {
    // a usage error prints no report
  }
  return { code: r.code, report, stderr: r.stderr };
}

/** `rule:fail|warn|ok` of every signature and attestation finding of the first image, sorted. */
export function signatureRules(r: VerifyReport): string[] {
  return (r.images[0]?.findings ?? [])
    .filter((f) => /^(signature|attestation)\./.test(f.rule))
    .map((f) => `${f.rule}:${f.fails ? 'fail' : f.mode === 'warn' ? 'warn' : 'ok'}`)
    .sort();
}
