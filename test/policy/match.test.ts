/**
 * requirementsFor: which rules match, override order, origins, and the compiled value of every key
 * a requirement group can hold.
 */
import { describe, expect, it } from 'vitest';
import { requirementsFor, type Group, type Requirements } from '../../src/policy/index.js';
import type { Role } from '../../src/types.js';
import { policy, ruleWith } from './helpers.js';

function groupOf<G extends Group>(yaml: string, group: G, ref = 'ghcr.io/acme/app:v1', role: Role = 'app'): Requirements[G] | undefined {
  return requirementsFor(policy(yaml), { ref, role }).groups[group]?.value as Requirements[G] | undefined;
}

const layered = `version: 1
defaults:
  ledger: { trust: tofu }
  base: { mode: warn, maxAge: 180d }
rules:
  - name: acme
    match:
      images: ["ghcr.io/acme/*"]
    base: { mode: enforce, maxAge: 90d }
    image: { maxAge: 30d }
  - name: accessories
    match:
      roles: [accessory]
    tags: { requireDigest: true }
  - name: acme-app-only
    match:
      images: ["ghcr.io/acme/*", "ghcr.io/other/*"]
      roles: [app, proxy]
    base: { mode: warn, allowed: ["docker.io/library/ruby"] }
`;

describe('matching', () => {
  it('applies defaults, then every matching rule in order; a later rule replaces a whole group', () => {
    const req = requirementsFor(policy(layered), { ref: 'ghcr.io/acme/app:v1', role: 'app' });
    expect(req.ref).toBe('ghcr.io/acme/app:v1');
    expect(req.repository).toBe('ghcr.io/acme/app');
    expect(req.tag).toBe('v1');
    expect(req.rules.map((r) => [r.rule, r.applies])).toEqual([
      ['acme', true],
      ['accessories', false],
      ['acme-app-only', true],
    ]);
    // base from acme-app-only replaced acme's (maxAge gone), image from acme stays, ledger from defaults.
    expect(req.groups.base?.value).toEqual({ mode: 'warn', allowed: ['docker.io/library/ruby'], candidates: [], unknown: 'warn' });
    expect(req.groups.base?.origin).toEqual({ rule: 'acme-app-only', source: { file: 'gate.yml', line: 19, column: 5 } });
    expect(req.groups.image?.origin).toEqual({ rule: 'acme', source: { file: 'gate.yml', line: 10, column: 5 } });
    expect(req.groups.ledger.origin).toEqual({ rule: 'defaults', source: { file: 'gate.yml', line: 3, column: 3 } });
    expect(req.groups.tags).toBeUndefined();
  });

  it('gives the reasons a rule does or does not apply', () => {
    const req = requirementsFor(policy(layered), { ref: 'redis:7', role: 'accessory' });
    expect(req.ref).toBe('docker.io/library/redis:7');
    expect(req.rules).toEqual([
      { rule: 'acme', source: { file: 'gate.yml', line: 6, column: 5 }, applies: false, reasons: ['docker.io/library/redis matches none of "ghcr.io/acme/*"', 'any role'] },
      { rule: 'accessories', source: { file: 'gate.yml', line: 11, column: 5 }, applies: true, reasons: ['any image', 'role accessory is one of accessory'] },
      {
        rule: 'acme-app-only',
        source: { file: 'gate.yml', line: 15, column: 5 },
        applies: false,
        reasons: ['docker.io/library/redis matches none of "ghcr.io/acme/*", "ghcr.io/other/*"', 'role accessory is not one of app, proxy'],
      },
    ]);
    expect(req.groups.base?.value.maxAge?.text).toBe('180d'); // defaults only
    expect(req.groups.base?.origin.rule).toBe('defaults');
    expect(req.groups.tags?.value.requireDigest).toBe(true);
  });

  it('requires every match condition: the right image in the wrong role does not match', () => {
    const req = requirementsFor(policy(layered), { ref: 'ghcr.io/other/app:v1', role: 'accessory' });
    expect(req.rules.map((r) => r.applies)).toEqual([false, true, false]);
    expect(requirementsFor(policy(layered), { ref: 'ghcr.io/other/app:v1', role: 'proxy' }).rules.map((r) => r.applies)).toEqual([false, false, true]);
  });

  it('matches the normalized name, whatever form the reference is given in', () => {
    const p = policy(ruleWith('    match: { images: ["docker.io/library/redis"] }\n    image: { maxAge: 1d }\n'));
    for (const ref of ['redis', 'redis:7', 'docker.io/library/redis:7', 'index.docker.io/library/redis@sha256:' + 'a'.repeat(64)]) {
      expect(requirementsFor(p, { ref, role: 'accessory' }).rules[0]!.applies).toBe(true);
    }
    expect(requirementsFor(p, { ref: 'bitnami/redis', role: 'accessory' }).rules[0]!.applies).toBe(false);
  });

  it('has built-in ledger (trust on first use, enforced) and config lint (warn) defaults when the policy sets none', () => {
    const req = requirementsFor(policy('version: 1\n'), { ref: 'ghcr.io/a/b:1', role: 'app' });
    expect(req.groups).toEqual({
      ledger: { value: { mode: 'enforce', trust: 'tofu' }, origin: { rule: 'built-in' } },
      config: { value: { mode: 'warn', ignore: [] }, origin: { rule: 'built-in' } },
    });
  });

  it('lets a later rule switch a group off', () => {
    const yaml = `version: 1
defaults:
  signatures: { keyless: [{ identity: me, issuer: https://issuer }] }
rules:
  - name: third-party
    match: { roles: [accessory] }
    signatures: { mode: off }
`;
    expect(groupOf(yaml, 'signatures', 'redis:7', 'accessory')?.mode).toBe('off');
    expect(groupOf(yaml, 'signatures', 'ghcr.io/a/b:1', 'app')?.mode).toBe('enforce');
  });
});

describe('every key takes effect', () => {
  it('mode defaults to enforce and takes enforce, warn and off', () => {
    expect(groupOf(ruleWith('    image: {}\n'), 'image')?.mode).toBe('enforce');
    for (const mode of ['enforce', 'warn', 'off'] as const) expect(groupOf(ruleWith(`    image: { mode: ${mode} }\n`), 'image')?.mode).toBe(mode);
  });

  it('ledger: trust tofu (default) and strict', () => {
    expect(groupOf(ruleWith('    ledger: {}\n'), 'ledger')).toEqual({ mode: 'enforce', trust: 'tofu' });
    expect(groupOf(ruleWith('    ledger: { trust: strict, mode: warn }\n'), 'ledger')).toEqual({ mode: 'warn', trust: 'strict' });
  });

  it('signatures: count, keys (resolved beside the policy), keyless with every claim, tlog, repository, reference', () => {
    const yaml = ruleWith(`    signatures:
      mode: warn
      count: 2
      keys: [keys/a.pub, keys/b.pub]
      keyless:
        - identity: https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main
          issuer: https://token.actions.githubusercontent.com
          github: { repository: acme/app, ref: refs/heads/main, workflow: release.yml, sha: ${'a'.repeat(40)} }
        - identityRegexp: ^https://github\\.com/acme/
          issuerRegexp: ^https://token\\.actions\\.githubusercontent\\.com$
      tlog: optional
      repository: ghcr.io/acme/signatures
      reference: match
      allowedReferences: ["ghcr.io/acme/*", "registry.acme.test:5000/**"]
`);
    expect(groupOf(yaml, 'signatures')).toEqual({
      mode: 'warn',
      count: 2,
      keys: [
        { path: 'keys/a.pub', resolved: '/p/keys/a.pub' },
        { path: 'keys/b.pub', resolved: '/p/keys/b.pub' },
      ],
      keyless: [
        {
          identity: 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
          issuer: 'https://token.actions.githubusercontent.com',
          github: { repository: 'acme/app', ref: 'refs/heads/main', workflow: 'release.yml', sha: 'a'.repeat(40) },
        },
        { identityRegexp: '^https://github\\.com/acme/', issuerRegexp: '^https://token\\.actions\\.githubusercontent\\.com$' },
      ],
      tlog: 'optional',
      repository: 'ghcr.io/acme/signatures',
      reference: 'match',
      allowedReferences: ['ghcr.io/acme/*', 'registry.acme.test:5000/**'],
    });
    const defaults = groupOf(ruleWith('    signatures: { keys: [keys/a.pub] }\n'), 'signatures');
    expect(defaults).toMatchObject({ count: 1, tlog: 'required', keyless: [], reference: 'ignore' });
    expect(defaults).not.toHaveProperty('allowedReferences');
    expect(groupOf(ruleWith('    signatures: { keys: [keys/a.pub], repository: sigs }\n'), 'signatures')?.repository).toBe('docker.io/library/sigs');
  });

  it('attestations: type (names and URIs), signedBy (key or keyless), builderId, sourceRepository', () => {
    const yaml = ruleWith(`    attestations:
      mode: warn
      require:
        - type: slsa-provenance
          builderId: https://github.com/actions/runner
          sourceRepository: github.com/acme/app
          signedBy: { identity: me@acme.example, issuer: https://accounts.google.com }
        - type: spdx
          signedBy: { key: keys/att.pub }
        - type: cyclonedx
        - type: https://example.com/predicate/v1
`);
    expect(groupOf(yaml, 'attestations')).toEqual({
      mode: 'warn',
      require: [
        {
          type: 'slsa-provenance',
          predicateTypes: ['https://slsa.dev/provenance/v0.2', 'https://slsa.dev/provenance/v1'],
          builderId: 'https://github.com/actions/runner',
          sourceRepository: 'github.com/acme/app',
          signedBy: { identity: 'me@acme.example', issuer: 'https://accounts.google.com' },
        },
        { type: 'spdx', predicateTypes: ['https://spdx.dev/Document'], signedBy: { key: { path: 'keys/att.pub', resolved: '/p/keys/att.pub' } } },
        { type: 'cyclonedx', predicateTypes: ['https://cyclonedx.org/bom'] },
        { type: 'https://example.com/predicate/v1', predicateTypes: ['https://example.com/predicate/v1'] },
      ],
    });
  });

  it('base: maxAge, maxStaleness, allowed, candidates (normalized), unknown (default: as mode)', () => {
    const yaml = ruleWith(`    base:
      mode: warn
      maxAge: 12w
      maxStaleness: 36h
      allowed: ["docker.io/library/ruby", "docker.io/library/*"]
      candidates: ["ruby:3.3-slim", "ghcr.io/acme/base@sha256:${'b'.repeat(64)}"]
      unknown: ignore
`);
    expect(groupOf(yaml, 'base')).toEqual({
      mode: 'warn',
      maxAge: { text: '12w', ms: 12 * 7 * 86_400_000 },
      maxStaleness: { text: '36h', ms: 36 * 3_600_000 },
      allowed: ['docker.io/library/ruby', 'docker.io/library/*'],
      candidates: ['docker.io/library/ruby:3.3-slim', `ghcr.io/acme/base@sha256:${'b'.repeat(64)}`],
      unknown: 'ignore',
    });
    expect(groupOf(ruleWith('    base: { maxAge: 90d }\n'), 'base')).toEqual({ mode: 'enforce', maxAge: { text: '90d', ms: 90 * 86_400_000 }, candidates: [], unknown: 'enforce' });
    expect(groupOf(ruleWith('    base: { mode: warn }\n'), 'base')?.unknown).toBe('warn');
    expect(groupOf(ruleWith('    base: { mode: off }\n'), 'base')?.unknown).toBe('ignore');
    expect(groupOf(ruleWith('    base: { mode: warn, unknown: enforce }\n'), 'base')?.unknown).toBe('enforce');
  });

  it('image: maxAge', () => {
    expect(groupOf(ruleWith('    image: { maxAge: 180d }\n'), 'image')).toEqual({ mode: 'enforce', maxAge: { text: '180d', ms: 180 * 86_400_000 } });
  });

  it('tags: immutable (default true), forbid, requireDigest (default false)', () => {
    expect(groupOf(ruleWith('    tags: {}\n'), 'tags')).toEqual({ mode: 'enforce', immutable: true, forbid: [], requireDigest: false });
    expect(groupOf(ruleWith('    tags: { mode: warn, immutable: false, forbid: [latest, "*-rc*"], requireDigest: true }\n'), 'tags')).toEqual({
      mode: 'warn',
      immutable: false,
      forbid: ['latest', '*-rc*'],
      requireDigest: true,
    });
  });

  it('platforms: a list, or builder', () => {
    expect(groupOf(ruleWith('    platforms: { require: [linux/amd64, linux/arm/v7] }\n'), 'platforms')).toEqual({ mode: 'enforce', require: ['linux/amd64', 'linux/arm/v7'] });
    expect(groupOf(ruleWith('    platforms: { require: builder }\n'), 'platforms')?.require).toBe('builder');
  });

  it('rule description is kept', () => {
    expect(policy(ruleWith('    description: why\n    image: {}\n')).rules[0]!.description).toBe('why');
  });
});
