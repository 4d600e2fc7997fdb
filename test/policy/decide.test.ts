/**
 * decide: each finding's mode from its requirement group, which severities fail under enforce,
 * exceptions (active waive, expired are reported and waive nothing), and the exit code.
 */
import { describe, expect, it } from 'vitest';
import { decide, type Policy } from '../../src/policy/index.js';
import type { Finding, Role, Severity } from '../../src/types.js';
import { policy } from './helpers.js';

const NOW = new Date('2026-06-15T12:00:00Z');

function finding(rule: string, opts: { severity?: Severity; ref?: string; role?: Role } = {}): Finding {
  const ref = opts.ref ?? 'ghcr.io/acme/app:v1';
  return { rule, severity: opts.severity ?? 'high', target: { ref, role: opts.role ?? 'app', name: 'web' }, message: `${rule} on ${ref}` };
}

function one(p: Policy, f: Finding) {
  const d = decide([f], p, NOW);
  return { ...d.findings[0]!, exitCode: d.exitCode };
}

const groups = `version: 1
defaults:
  ledger: { mode: warn, trust: strict }
  signatures: { mode: warn, keyless: [{ identity: me, issuer: https://i }] }
  attestations: { mode: enforce, require: [{ type: spdx }] }
  base: { mode: warn, maxAge: 90d, unknown: enforce }
  image: { mode: enforce, maxAge: 90d }
  tags: { mode: warn, forbid: [latest] }
  platforms: { mode: off }
`;

describe('modes', () => {
  const p = policy(groups);
  it.each([
    ['signature.missing', 'signatures', 'warn'],
    ['attestation.missing', 'attestations', 'enforce'],
    ['base.too_old', 'base', 'warn'],
    ['base.stale', 'base', 'warn'],
    ['base.not_allowed', 'base', 'warn'],
    ['base.unknown', 'base', 'enforce'], // base.unknown has its own setting
    ['image.too_old', 'image', 'enforce'],
    ['tag.forbidden', 'tags', 'warn'],
    ['tag.not_pinned', 'tags', 'warn'],
    ['tag.overwritten', 'tags', 'enforce'], // immutable (default true) decides tag moves, not mode
    ['tag.rolled_back', 'tags', 'enforce'],
    ['tag.deleted', 'tags', 'enforce'],
    ['tag.unrecorded', 'ledger', 'warn'],
    ['platform.missing', 'platforms', 'warn'], // off: reported, never fails
  ] as const)('%s belongs to %s and is %s', (rule, group, mode) => {
    const d = one(p, finding(rule));
    expect(d.group).toBe(group);
    expect(d.mode).toBe(mode);
    expect(d.fails).toBe(mode === 'enforce');
    expect(d.exitCode).toBe(mode === 'enforce' ? 1 : 0);
    expect(d.origin?.rule).toBe('defaults');
  });

  it('enforces a finding whose group no rule set, and an unknown rule id (fail closed)', () => {
    const bare = policy('version: 1\n');
    expect(one(bare, finding('signature.missing'))).toMatchObject({ mode: 'enforce', group: 'signatures', fails: true, exitCode: 1 });
    const unknown = one(bare, finding('mystery.check'));
    expect(unknown).toMatchObject({ mode: 'enforce', fails: true });
    expect(unknown.group).toBeUndefined();
    // Config lint has a built-in default instead: reported, failing nothing until a policy enforces it.
    expect(one(bare, finding('config.docker_socket'))).toMatchObject({ mode: 'warn', group: 'config', fails: false, exitCode: 0 });
    const enforced = policy('version: 1\ndefaults:\n  config: { mode: enforce }\n');
    expect(one(enforced, finding('config.docker_socket'))).toMatchObject({ mode: 'enforce', group: 'config', fails: true, exitCode: 1 });
  });

  it('tags.immutable: false turns tag moves into warnings', () => {
    const p2 = policy('version: 1\ndefaults:\n  tags: { immutable: false }\n');
    for (const rule of ['tag.overwritten', 'tag.rolled_back', 'tag.deleted']) expect(one(p2, finding(rule, { severity: 'critical' }))).toMatchObject({ mode: 'warn', fails: false });
    expect(one(p2, finding('tag.forbidden'))).toMatchObject({ mode: 'enforce', fails: true });
  });

  it('base.unknown: warn and ignore are warnings, whatever mode says', () => {
    expect(one(policy('version: 1\ndefaults:\n  base: { unknown: warn }\n'), finding('base.unknown'))).toMatchObject({ mode: 'warn', fails: false });
    expect(one(policy('version: 1\ndefaults:\n  base: { unknown: ignore }\n'), finding('base.unknown'))).toMatchObject({ mode: 'warn', fails: false });
    expect(one(policy('version: 1\ndefaults:\n  base: { mode: warn }\n'), finding('base.too_old'))).toMatchObject({ mode: 'warn' });
  });

  it("takes the mode from the rule that applies to the finding's image and role", () => {
    const p2 = policy(`version: 1
defaults:
  image: { mode: warn }
rules:
  - name: acme
    match: { images: ["ghcr.io/acme/*"], roles: [app] }
    image: { mode: enforce }
`);
    expect(one(p2, finding('image.too_old'))).toMatchObject({ mode: 'enforce', origin: { rule: 'acme' } });
    expect(one(p2, finding('image.too_old', { role: 'accessory' }))).toMatchObject({ mode: 'warn', origin: { rule: 'defaults' } });
    expect(one(p2, finding('image.too_old', { ref: 'redis:7' }))).toMatchObject({ mode: 'warn' });
  });

  it('enforces a finding whose reference does not parse', () => {
    expect(one(policy(groups), finding('base.too_old', { ref: 'Not A Ref' }))).toMatchObject({ mode: 'enforce', fails: true });
  });
});

describe('severities under enforce', () => {
  it.each([
    ['critical', true],
    ['high', true],
    ['medium', true],
    ['low', false],
    ['info', false],
  ] as const)('%s fails: %s', (severity, fails) => {
    const d = one(policy('version: 1\n'), finding('image.too_old', { severity }));
    expect(d.fails).toBe(fails);
    expect(d.exitCode).toBe(fails ? 1 : 0);
  });

  it('warnings never fail, whatever their severity', () => {
    expect(one(policy('version: 1\ndefaults:\n  image: { mode: warn }\n'), finding('image.too_old', { severity: 'critical' })).fails).toBe(false);
  });

  it('exit 1 when any one finding fails; 0 with none', () => {
    const p = policy(groups);
    expect(decide([finding('base.too_old'), finding('image.too_old')], p, NOW).exitCode).toBe(1);
    expect(decide([finding('base.too_old'), finding('tag.forbidden')], p, NOW).exitCode).toBe(0);
    expect(decide([], p, NOW)).toEqual({ findings: [], exitCode: 0 });
  });
});

describe('exceptions', () => {
  const p = policy(`version: 1
exceptions:
  - images: ["docker.io/library/redis:7.*"]
    rules: [base.*, image.too_old]
    reason: Upstream has not rebuilt; OPS-123
    expires: 2026-06-15
  - images: ["docker.io/library/postgres"]
    rules: [base.too_old]
    reason: Migrating to 17 in Q3
    expires: 2026-06-14
  - images: ["ghcr.io/nobody/*"]
    rules: ["*"]
    reason: Old
    expires: 2020-01-01
`);
  const redis = { ref: 'redis:7.4', role: 'accessory' as const };

  it('an active exception waives matching findings: reported, never failing', () => {
    const d = decide([finding('base.too_old', redis), finding('base.stale', redis), finding('image.too_old', redis)], p, NOW);
    for (const f of d.findings.slice(0, 3)) {
      expect(f.exception?.reason).toBe('Upstream has not rebuilt; OPS-123');
      expect(f.mode).toBe('enforce');
      expect(f.fails).toBe(false);
    }
    expect(d.exitCode).toBe(0);
  });

  it('applies through the end of its expiry day (UTC), and not after', () => {
    expect(decide([finding('base.too_old', redis)], p, new Date('2026-06-15T23:59:59Z')).exitCode).toBe(0);
    expect(decide([finding('base.too_old', redis)], p, new Date('2026-06-16T00:00:00Z')).exitCode).toBe(1);
  });

  it('waives only the rules and images it names', () => {
    expect(one(p, finding('tag.overwritten', redis))).toMatchObject({ fails: true });
    expect(one(p, finding('base.too_old', { ref: 'redis:6.2', role: 'accessory' }))).toMatchObject({ fails: true });
    expect(one(p, finding('base.too_old', { ref: 'ghcr.io/acme/app:v1' }))).toMatchObject({ fails: true });
  });

  it('an expired exception waives nothing and is reported for each image it would have covered', () => {
    const pg = { ref: 'postgres:16', role: 'accessory' as const };
    const d = decide([finding('base.too_old', pg), finding('base.stale', pg)], p, NOW);
    expect(d.exitCode).toBe(1);
    expect(d.findings[0]).toMatchObject({ rule: 'base.too_old', fails: true });
    expect(d.findings[0]!.exception).toBeUndefined();
    const expired = d.findings.filter((f) => f.rule === 'policy.exception_expired');
    expect(expired).toHaveLength(2); // postgres (matched) and ghcr.io/nobody/* (matched nothing)
    expect(expired[0]).toMatchObject({
      severity: 'medium',
      mode: 'warn',
      fails: false,
      target: { ref: 'postgres:16' },
      message: 'the exception at gate.yml:7 for base.too_old on docker.io/library/postgres expired on 2026-06-14; it no longer waives base.too_old for this image. Its reason: Migrating to 17 in Q3',
      evidence: { expires: '2026-06-14', reason: 'Migrating to 17 in Q3', source: { file: 'gate.yml', line: 7, column: 5 }, noLongerWaived: ['base.too_old'] },
    });
    expect(expired[1]).toMatchObject({
      target: { ref: 'gate.yml', name: 'policy', source: { file: 'gate.yml', line: 11, column: 5 } },
      message: 'the exception at gate.yml:11 for * on ghcr.io/nobody/* expired on 2020-01-01 (no finding in this run falls under it). Its reason: Old',
    });
  });

  it('reports every expired exception even when there are no findings, without failing', () => {
    const d = decide([], p, NOW);
    expect(d.findings.map((f) => [f.rule, f.target.source?.line])).toEqual([
      ['policy.exception_expired', 7],
      ['policy.exception_expired', 11],
    ]);
    expect(d.exitCode).toBe(0);
  });
});
