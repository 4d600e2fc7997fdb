/** A synthetic report with every case the CI formats must render: pinned, absent and error images; failing, warn and waived findings; policy findings. */
import type { VerifyReport } from '../../src/report/model.js';

export const D1 = 'sha256:' + 'a'.repeat(64);
const D2 = 'sha256:' + 'b'.repeat(64);

export function sampleReport(): VerifyReport {
  return {
    schema: 'kamal-gate/verify/v2',
    tool: { name: 'kamal-gate', version: '0.1.0' },
    config: 'config/deploy.yml',
    destination: 'staging',
    version: 'v42',
    versionSource: 'KAMAL_VERSION',
    images: [
      {
        role: 'app',
        name: 'shop',
        ref: 'registry.example.com/acme/shop:v42',
        source: { file: 'config/deploy.yml', line: 4, column: 8 },
        status: 'pinned',
        digest: D1,
        pinned: `registry.example.com/acme/shop@${D1}`,
        platform: 'linux/amd64',
        platformDigests: { 'linux/amd64': D2 },
        findings: [
          {
            rule: 'base.too_old',
            severity: 'medium',
            mode: 'warn',
            fails: false,
            message: 'the base image ruby:3.3.4 is 400 days old (limit 180d)',
            remedy: 'rebuild on a current base image',
            evidence: { ageDays: 400 },
            setBy: { rule: 'defaults', source: { file: '.kamal/gate-policy.yml', line: 3, column: 3 } },
          },
          {
            rule: 'tag.overwritten',
            severity: 'critical',
            mode: 'enforce',
            fails: true,
            message: `registry.example.com/acme/shop:v42 now points to ${D2}, but the ledger recorded ${D1}: the tag was overwritten`,
            remedy: 'find out who pushed the new digest; if it is legitimate, approve it with kamal-gate record',
          },
          {
            rule: 'signature.unverified',
            severity: 'high',
            mode: 'enforce',
            fails: false,
            message: 'no signature could be verified',
            waivedBy: { reason: 'signing rolls out in Q3, see TICKET-12', expires: '2099-01-01', source: { file: '.kamal/gate-policy.yml', line: 20, column: 5 } },
          },
        ],
      },
      {
        role: 'app',
        name: 'shop',
        ref: 'registry.example.com/acme/shop:latest-staging',
        aliasOf: 'registry.example.com/acme/shop:v42',
        optional: true,
        source: { file: 'config/deploy.yml', line: 4, column: 8 },
        status: 'absent',
      },
      {
        role: 'accessory',
        name: 'db',
        ref: 'registry.example.com/library/postgres:16.4',
        source: { file: 'config/deploy.staging.yml', line: 11, column: 12 },
        status: 'error',
        error: { kind: 'tag_not_found', message: 'registry.example.com/library/postgres:16.4: no such tag' },
      },
    ],
    notes: ['the proxy image is not checked'],
    policy: { file: '.kamal/gate-policy.yml', origin: 'project' },
    policyFindings: [
      {
        rule: 'policy.exception_expired',
        severity: 'medium',
        mode: 'warn',
        fails: false,
        message: 'the exception at .kamal/gate-policy.yml:30 for base.too_old on acme/* expired on 2024-01-01',
        remedy: 'set a new expires date after review, or remove it',
        evidence: { source: { file: '.kamal/gate-policy.yml', line: 30, column: 5 } },
      },
    ],
    exitCode: 3,
  };
}

/** Strings a hostile registry or config could put into messages. */
export const HOSTILE = `a&b <tag attr="x"> 'q' %25 100% \r\nline2: x, y :: ::error::pwned \u0000\u0001\u0008\u000b\u000c\u001b[31m\uFFFE\uD800 end`;
