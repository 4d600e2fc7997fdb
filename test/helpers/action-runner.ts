/**
 * Runs a composite action (action.yml) the way a GitHub runner does: its steps in order, each `run`
 * script written to a file and run with `bash --noprofile --norc -eo pipefail`, `${{ … }}` expressions
 * in `env:` (and anywhere else) replaced by their values (inputs with their defaults, github.*,
 * runner.temp, steps.<id>.outputs.*), a fresh GITHUB_OUTPUT file per step read back as that step's
 * outputs (`name=value` and `name<<DELIMITER` blocks), GITHUB_ENV and GITHUB_PATH applied to the later
 * steps, GITHUB_STEP_SUMMARY shared. A step that fails skips the later steps (as `if: success()`);
 * `uses:` steps are not run but returned with their evaluated `if:` and `with:`. An expression this
 * runner does not know fails the test instead of being left in place.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

interface Step {
  id?: string;
  name?: string;
  if?: string;
  run?: string;
  shell?: string;
  env?: Record<string, string>;
  uses?: string;
  with?: Record<string, string>;
}

export interface ActionYml {
  inputs: Record<string, { description?: string; default?: string }>;
  outputs: Record<string, { description?: string; value: string }>;
  runs: { using: string; steps: Step[] };
}

export function readAction(file: string): ActionYml {
  return parse(readFileSync(file, 'utf8')) as ActionYml;
}

export interface ActionRun {
  outputs: Record<string, string>;
  /** Each step's outputs by id. */
  steps: Record<string, Record<string, string>>;
  /** Everything the steps printed, in order (the job log). */
  log: string;
  stdout: string;
  stderr: string;
  /** The exit code of the step that failed (the job fails), or 0. */
  failedWith: number;
  summary: string;
  /** Lines the steps added to GITHUB_PATH. */
  path: string[];
  /** `uses:` steps as the runner would see them. */
  uses: Array<{ uses: string; if: boolean; with: Record<string, string> }>;
}

export interface RunOptions {
  action: ActionYml;
  actionPath: string;
  inputs: Record<string, string>;
  /** The job's working folder ($GITHUB_WORKSPACE). */
  workspace: string;
  /** $RUNNER_TEMP (share it between runs to keep what the action caches there, as one job would). */
  runnerTemp: string;
  env?: NodeJS.ProcessEnv;
  sha?: string;
}

/** Parses a GITHUB_OUTPUT / GITHUB_ENV file. */
function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]!);
      out[heredoc[1]!] = value.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`not a name=value line in a command file: ${line}`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

export function runAction(opts: RunOptions): ActionRun {
  const { action } = opts;
  const files = mkdtempSync(join(opts.runnerTemp, '_runner_file_commands-'));
  const summaryFile = join(files, 'step_summary');
  writeFileSync(summaryFile, '');
  mkdirSync(opts.workspace, { recursive: true });
  const sha = opts.sha ?? '0123456789abcdef0123456789abcdef01234567';
  const steps: Record<string, Record<string, string>> = {};
  const inputValue = (name: string): string => {
    if (!(name in action.inputs)) throw new Error(`the action has no input ${name}`);
    if (name in opts.inputs) return opts.inputs[name]!;
    return evaluate(action.inputs[name]!.default ?? '');
  };
  const expression = (expr: string): string => {
    let m = /^inputs\.([\w-]+)$/.exec(expr);
    if (m) return inputValue(m[1]!);
    m = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr);
    if (m) return steps[m[1]!]?.[m[2]!] ?? '';
    if (expr === 'github.action_path') return opts.actionPath;
    if (expr === 'github.sha') return sha;
    if (expr === 'github.workspace') return opts.workspace;
    if (expr === 'runner.temp') return opts.runnerTemp;
    throw new Error(`the test's runner does not know the expression \${{ ${expr} }}`);
  };
  const evaluate = (text: string): string => text.replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, e: string) => expression(e));
  // `if:` of the steps this action has: always() && inputs.x == 'value'
  const condition = (cond: string | undefined, failed: boolean): boolean => {
    if (!cond) return !failed;
    const body = cond.replace(/^\$\{\{\s*|\s*\}\}$/g, '');
    return body.split('&&').every((part) => {
      const p = part.trim();
      if (p === 'always()') return true;
      if (p === 'success()') return !failed;
      const eq = /^([\w.-]+)\s*==\s*'([^']*)'$/.exec(p);
      if (eq) return expression(eq[1]!) === eq[2];
      throw new Error(`the test's runner does not know the condition ${p}`);
    });
  };

  let log = '';
  let stdout = '';
  let stderr = '';
  let failedWith = 0;
  const path: string[] = [];
  const jobEnv: Record<string, string> = {};
  const uses: ActionRun['uses'] = [];
  action.runs.steps.forEach((step, index) => {
    if (step.uses) {
      uses.push({ uses: step.uses, if: condition(step.if, failedWith !== 0), with: Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, evaluate(String(v))])) });
      return;
    }
    if (!condition(step.if, failedWith !== 0)) return;
    if (step.shell !== 'bash') throw new Error(`step ${step.name}: the test's runner runs shell: bash only`);
    const output = join(files, `set_output_${index}`);
    const envFile = join(files, `set_env_${index}`);
    const pathFile = join(files, `add_path_${index}`);
    for (const f of [output, envFile, pathFile]) writeFileSync(f, '');
    const script = join(files, `step_${index}.sh`);
    writeFileSync(script, evaluate(step.run!));
    const base = { ...process.env, ...opts.env };
    const env: NodeJS.ProcessEnv = {
      ...base,
      ...jobEnv,
      PATH: [...path, base['PATH'] ?? ''].join(':'),
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_ACTION: '__kamal-gate',
      GITHUB_ACTION_PATH: opts.actionPath,
      GITHUB_WORKSPACE: opts.workspace,
      GITHUB_SHA: sha,
      GITHUB_OUTPUT: output,
      GITHUB_ENV: envFile,
      GITHUB_PATH: pathFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      RUNNER_TEMP: opts.runnerTemp,
    };
    for (const [k, v] of Object.entries(step.env ?? {})) env[k] = evaluate(String(v));
    const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], { cwd: opts.workspace, env, encoding: 'utf8', timeout: 300_000 });
    stdout += r.stdout;
    stderr += r.stderr;
    log += r.stdout + r.stderr;
    if (step.id) steps[step.id] = parseCommandFile(readFileSync(output, 'utf8'));
    Object.assign(jobEnv, parseCommandFile(readFileSync(envFile, 'utf8')));
    path.unshift(...readFileSync(pathFile, 'utf8').split('\n').filter(Boolean).reverse());
    if (r.status !== 0) failedWith = r.status ?? 1;
  });
  const outputs = Object.fromEntries(Object.entries(action.outputs).map(([k, o]) => [k, evaluate(o.value)]));
  return { outputs, steps, log, stdout, stderr, failedWith, summary: readFileSync(summaryFile, 'utf8'), path, uses };
}
