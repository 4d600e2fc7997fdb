/**
 * `--format sarif`: a SARIF 2.1.0 log with one run. Every finding, policy finding and image that could
 * not be resolved is a result, located at the config line of the image (deploy.yml or the
 * destination overlay) or the policy line; rule ids are the findings' rule ids. Waived findings are
 * results of level `note` with an external suppression carrying the exception's reason.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LINT_RULE_DESCRIPTIONS } from '../kamal/lint/index.js';
import type { SourceLocation } from '../types.js';
import { problems, type Problem } from './ci.js';
import type { VerifyReport } from './model.js';

const SARIF_SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';

type Level = 'error' | 'warning' | 'note';

/** What each rule checks, for `rules[].shortDescription`; a rule not listed gets a generic one. */
const RULE_DESCRIPTIONS: Record<string, string> = {
  'tag.overwritten': 'The tag points to another digest than the one the digest ledger recorded',
  'host.image_mismatch': 'A host holds another image under the reference Kamal boots than the digest the gate verified',
  'host.image_missing': 'A host does not hold the image Kamal is about to boot',
  'tag.rolled_back': 'The tag points back to an older digest the ledger recorded',
  'tag.deleted': 'A tag the ledger recorded is gone from the registry',
  'tag.unrecorded': 'The tag has never been recorded in the digest ledger',
  'tag.forbidden': 'The deploy uses a tag the policy forbids (such as latest)',
  'tag.not_pinned': 'The image is not pinned to a digest',
  'signature.unverified': 'No signature by an expected key or identity could be verified',
  'attestation.unverified': 'No attestation by an expected key or identity could be verified',
  'signature.platform_uncovered': 'A platform the deploy runs pulls a manifest that no valid signature covers (neither the index nor that manifest is signed)',
  'attestation.platform_uncovered': 'A platform the deploy runs pulls a manifest that no required attestation covers (neither the index nor that manifest has one)',
  'base.too_old': 'The base image is older than the policy allows',
  'base.stale': 'A newer release of the base image has been out longer than the policy allows',
  'base.unknown': 'The base image could not be identified',
  'base.unconfirmed': 'The base image the image names is not confirmed by its layers',
  'base.not_allowed': 'The base image is not one the policy allows',
  'image.too_old': 'The image is older than the policy allows',
  'image.unknown_age': 'The age of the image cannot be told: its creation time is absent, not a date, fixed or in the future',
  'platform.missing': 'The image has no build for a platform the deploy runs',
  'policy.exception_expired': 'A policy exception has expired',
  ...LINT_RULE_DESCRIPTIONS,
};

const SECURITY_SEVERITY: Record<string, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '1.0' };

function describe(rule: string): string {
  if (RULE_DESCRIPTIONS[rule]) return RULE_DESCRIPTIONS[rule];
  if (rule.startsWith('registry.')) return `The image could not be resolved at the registry (${rule.slice('registry.'.length)}), so it could not be verified`;
  if (rule.startsWith('config.')) return 'The Kamal config has a dangerous setting';
  if (rule.startsWith('error.')) return `kamal-gate could not run (${rule.slice('error.'.length)} error): no image was verified`;
  return `kamal-gate check ${rule}`;
}

function levelOf(p: Problem): Level {
  return p.verdict === 'fail' ? 'error' : p.verdict === 'warn' ? 'warning' : 'note';
}

function defaultLevel(severity: string): Level {
  return severity === 'low' ? 'warning' : severity === 'info' ? 'note' : 'error';
}

/** A relative URI (forward slashes, each segment percent-encoded) when the file is under `cwd`; else a file: URL. */
export function artifactUri(file: string, cwd: string): string {
  let path = file;
  if (isAbsolute(path)) {
    const rel = relative(cwd, path);
    if (!rel || rel.startsWith('..') || isAbsolute(rel)) return pathToFileURL(path).href;
    path = rel;
  }
  return path.split(sep).join('/').split('/').map(encodeURIComponent).join('/');
}

function physical(loc: SourceLocation, cwd: string) {
  const region: { startLine: number; startColumn?: number } = { startLine: loc.line };
  if (loc.column && loc.column >= 1) region.startColumn = loc.column;
  return { artifactLocation: { uri: artifactUri(loc.file, cwd) }, region };
}

function fingerprint(p: Problem): string {
  const who = p.image ? `${p.image.role}\0${p.image.name}\0${p.image.ref}` : `policy\0${p.location ? `${p.location.file}:${p.location.line}` : ''}`;
  // Config lint findings: several of one rule on one image, told apart by file and what they name (not the line, which moves).
  const what = p.finding?.source ? `\0${p.finding.source.file}\0${JSON.stringify(p.finding.evidence ?? {})}` : '';
  return createHash('sha256').update(`${p.rule}\0${who}${what}`).digest('hex');
}

export interface SarifOptions {
  /** Relative paths in results are relative to this folder (default: the working folder). */
  cwd?: string;
}

export function renderVerifySarif(report: VerifyReport, opts: SarifOptions = {}): string {
  const cwd = opts.cwd ?? process.cwd();
  const list = problems(report);
  const rules: Array<Record<string, unknown>> = [];
  const ruleIndex = new Map<string, number>();
  for (const p of list) {
    if (ruleIndex.has(p.rule)) continue;
    ruleIndex.set(p.rule, rules.length);
    const rule: Record<string, unknown> = {
      id: p.rule,
      name: p.rule.replace(/[._]([a-z])/g, (_, c: string) => c.toUpperCase()).replace(/^[a-z]/, (c) => c.toUpperCase()),
      shortDescription: { text: describe(p.rule) },
      defaultConfiguration: { level: defaultLevel(p.severity) },
      properties: { tags: ['security', 'supply-chain', 'container'], 'security-severity': SECURITY_SEVERITY[p.severity] ?? '5.0' },
    };
    if (p.remedy) rule['help'] = { text: p.remedy };
    rules.push(rule);
  }
  const results = list.map((p) => {
    const result: Record<string, unknown> = {
      ruleId: p.rule,
      ruleIndex: ruleIndex.get(p.rule),
      level: levelOf(p),
      message: { text: p.remedy && p.verdict !== 'waived' ? `${p.message}\nFix: ${p.remedy}` : p.message },
    };
    if (p.location) result['locations'] = [{ physicalLocation: physical(p.location, cwd) }];
    if (p.related) {
      result['relatedLocations'] = [{ id: 1, physicalLocation: physical(p.related.source, cwd), message: { text: `required by policy ${p.related.rule}` } }];
    }
    result['partialFingerprints'] = { 'kamalGateFinding/v1': fingerprint(p) };
    if (p.verdict === 'waived' && p.finding?.waivedBy) {
      const w = p.finding.waivedBy;
      const suppression: Record<string, unknown> = { kind: 'external', status: 'accepted', justification: `${w.reason} (until ${w.expires})` };
      suppression['location'] = { physicalLocation: physical(w.source, cwd) };
      result['suppressions'] = [suppression];
    }
    const props: Record<string, unknown> = { severity: p.severity, verdict: p.verdict };
    if (p.finding?.mode) props['mode'] = p.finding.mode;
    if (p.image) {
      props['image'] = { role: p.image.role, name: p.image.name, ref: p.image.ref, ...(p.image.digest ? { digest: p.image.digest } : {}), ...(p.image.pinned ? { pinned: p.image.pinned } : {}) };
    }
    if (p.finding?.evidence) props['evidence'] = p.finding.evidence;
    result['properties'] = props;
    return result;
  });
  const invocation: Record<string, unknown> = {
    // 0 passed, 1 policy violation: the check ran. 2 and 3: it could not run or could not verify.
    executionSuccessful: report.exitCode === 0 || report.exitCode === 1,
    exitCode: report.exitCode,
  };
  const notes = report.notes.map((n) => ({ level: 'note', message: { text: n } }));
  if (notes.length) invocation['toolExecutionNotifications'] = notes;
  const run: Record<string, unknown> = {
    tool: { driver: { name: 'kamal-gate', version: report.tool.version, semanticVersion: report.tool.version, rules } },
    invocations: [invocation],
    results,
    columnKind: 'utf16CodeUnits',
    properties: {
      ...(report.config ? { config: report.config } : {}),
      ...(report.destination ? { destination: report.destination } : {}),
      ...(report.version ? { version: report.version } : {}),
      ...(report.policy ? { policy: report.policy.file } : {}),
      images: report.images.map((i) => ({ role: i.role, name: i.name, ref: i.ref, status: i.status, ...(i.digest ? { digest: i.digest } : {}) })),
    },
  };
  const log = { $schema: SARIF_SCHEMA_URI, version: '2.1.0', runs: [run] };
  return JSON.stringify(log, null, 2) + '\n';
}

/** A failure that stopped `verify` before it had a report: a config, usage, policy or registry error. */
export interface RunError {
  /** The error's kind (`config`, `usage`, `policy`, `auth`, …; `internal` for a bug). */
  kind: string;
  message: string;
  exitCode: number;
  /** Where it is, when the error names a file (else the Kamal config, as code scanning needs a location). */
  file?: string;
  line?: number;
  column?: number;
}

/**
 * A SARIF log for a run that stopped on an error: one result (level error, rule `error.KIND`) carrying
 * the message, located at the file the error names or else at `configFile` (code scanning refuses a
 * result without a location), and the same message as an error notification of a failed invocation.
 */
export function renderErrorSarif(error: RunError, opts: SarifOptions & { version: string; configFile: string }): string {
  const cwd = opts.cwd ?? process.cwd();
  const ruleId = `error.${error.kind}`;
  const where = physical({ file: error.file ?? opts.configFile, line: error.line ?? 1, ...(error.column ? { column: error.column } : {}) }, cwd);
  const rule = {
    id: ruleId,
    name: `${error.kind.replace(/^[a-z]/, (c) => c.toUpperCase())}Error`,
    shortDescription: { text: describe(ruleId) },
    defaultConfiguration: { level: 'error' },
    properties: { tags: ['kamal-gate'] },
  };
  const result = {
    ruleId,
    ruleIndex: 0,
    level: 'error',
    message: { text: error.message },
    locations: [{ physicalLocation: where }],
    partialFingerprints: { 'kamalGateFinding/v1': createHash('sha256').update(`${ruleId}\0${error.message}`).digest('hex') },
    properties: { kind: error.kind, exitCode: error.exitCode },
  };
  const invocation = {
    executionSuccessful: false,
    exitCode: error.exitCode,
    toolExecutionNotifications: [{ level: 'error', message: { text: error.message }, locations: [{ physicalLocation: where }] }],
  };
  const run = {
    tool: { driver: { name: 'kamal-gate', version: opts.version, semanticVersion: opts.version, rules: [rule] } },
    invocations: [invocation],
    results: [result],
    columnKind: 'utf16CodeUnits',
  };
  return JSON.stringify({ $schema: SARIF_SCHEMA_URI, version: '2.1.0', runs: [run] }, null, 2) + '\n';
}
