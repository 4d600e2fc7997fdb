/**
 * Config approval (`config.changed`): the effective deploy at hand (kamal/effective.ts) against the
 * one `kamal-gate record` approved for the service and destination in the ledger. Any difference is
 * a critical finding on the app image, naming each changed setting (secrets only by name: the
 * documents hold no secret values). The policy's `config` group decides its mode: a warning under
 * the baseline, a failure under strict. Nothing approved yet: no finding (record approves it).
 */
import { configFingerprint } from '../kamal/effective.js';
import { diffDeploys, type DeployChange } from '../kamal/effective-diff.js';
import { approvedConfig } from '../ledger/config-approval.js';
import type { Finding } from '../types.js';
import { configChecks } from './config.js';
import type { TargetCheck } from './types.js';

/** How many changes the message lists (evidence.changes has them all). */
const LISTED = 3;
const MAX_VALUE = 80;

function shown(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

/** `servers.web.cmd: "bin/rails s" → "sh -c '…'"`. */
function describeChange(c: DeployChange): string {
  return `${c.path}: ${shown(c.from)} → ${shown(c.to)}`;
}

export const configApprovalCheck: TargetCheck = {
  name: 'config approval',
  on: 'target',
  async run(r, ctx) {
    const deploy = ctx.deployConfig;
    if (!deploy || !ctx.ledger || r.target.role !== 'app' || r.target.aliasOf) return { findings: [] };
    const approved = await approvedConfig(ctx.ledger, deploy.document.service, deploy.destination);
    const fingerprint = configFingerprint(deploy.document);
    if (!approved || approved.fingerprint === fingerprint) return { findings: [] };
    const changes = diffDeploys(approved.document, deploy.document);
    const where = `${deploy.document.service}${deploy.destination !== undefined ? ` -d ${deploy.destination}` : ''}`;
    const listed = changes.slice(0, LISTED).map(describeChange).join('; ');
    const more = changes.length > LISTED ? `; and ${changes.length - LISTED} more` : '';
    const finding: Finding = {
      rule: 'config.changed',
      severity: 'critical',
      target: r.target,
      message: `the Kamal config of ${where} differs from the one approved with version ${approved.version}: ${listed}${more}`,
      remedy: `review the change (kamal-gate config diff); if it is legitimate, approve it from the pipeline with \`kamal-gate record\` (or \`kamal-gate record --approve-config ${fingerprint}\`)`,
      evidence: { approved: approved.fingerprint, approvedVersion: approved.version, approvedSeq: approved.seq, fingerprint, changes },
    };
    return { findings: configChecks([finding], ctx.policy) };
  },
};
