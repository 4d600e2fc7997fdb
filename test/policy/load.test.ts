/**
 * Loading a policy: every problem at once, each with file:line:column and the key's path; where the
 * policy is found; the shipped policies load.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PolicyError } from '../../src/errors.js';
import { loadPolicy, parsePolicy, requirementsFor, shippedPolicyPath } from '../../src/policy/index.js';
import { problems } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'kg-policy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmp, 'p-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

describe('refusing a bad policy', () => {
  it('reports a typo with its line, column, path and the key meant', () => {
    const yaml = ['version: 1', 'rules:', '  - name: app', '    base:', '      maxAg: 90d', ''].join('\n');
    expect(problems(yaml)).toEqual(['gate.yml:5:7: rules[0].base.maxAg: unknown key (did you mean maxAge?)']);
  });

  it('reports every problem at once, in file order, with a summary line first', () => {
    const yaml = [
      'version: 1', //                                  1
      'defaults:', //                                   2
      '  tags:', //                                     3
      '    imutable: true', //                          4  typo
      'rules:', //                                      5
      '  - name: app', //                               6
      '    match:', //                                  7
      '      images: [redis]', //                       8  no registry
      '      roles: [web]', //                          9  not a role
      '    base:', //                                  10
      '      maxAge: 3m', //                           11  bad duration
      '    image: { maxAge: 90 }', //                  12  no unit
      '  - name: app', //                              13  duplicate name
      '    tags: { forbid: [3.3], requireDigest: "yes" }', // 14  wrong types
      'exceptions:', //                                15
      '  - images: ["docker.io/library/redis:*"]', //  16
      '    rules: [base.*]', //                        17
      '    expires: 2026-02-30', //                    18  not a date; reason missing
      '',
    ].join('\n');
    const got = problems(yaml);
    expect(got).toEqual([
      'gate.yml:4:5: defaults.tags.imutable: unknown key (did you mean immutable?)',
      'gate.yml:8:16: rules[0].match.images[0]: names no registry: images are matched by their normalized name, e.g. docker.io/library/redis',
      'gate.yml:9:15: rules[0].match.roles[0]: expected "app", "accessory", "proxy"; got "web"',
      'gate.yml:11:15: rules[0].base.maxAge: "3m": months and years vary in length (and "m" could be minutes); write days, e.g. 90d',
      'gate.yml:12:22: rules[0].image.maxAge: a duration needs a unit: write 90d (days), 90w (weeks) or 90h (hours)',
      'gate.yml:13:11: rules[1].name: rule name "app" is already used by rules[0]',
      'gate.yml:14:22: rules[1].tags.forbid[0]: expected a string, got the number 3.3 (quote it: "3.3")',
      'gate.yml:14:43: rules[1].tags.requireDigest: expected true or false, got "yes"',
      'gate.yml:16:5: exceptions[0].reason: required',
      'gate.yml:18:14: exceptions[0].expires: expected a date written YYYY-MM-DD (e.g. 2026-12-31)',
    ]);
    try {
      parsePolicy(yaml, 'gate.yml', { dir: '/p', exists: () => false });
      expect.unreachable();
    } catch (e) {
      const err = e as PolicyError;
      expect(err.exitCode).toBe(2);
      expect(err.kind).toBe('policy');
      expect([err.file, err.line, err.column]).toEqual(['gate.yml', 4, 5]);
      const lines = err.message.split('\n');
      expect(lines[0]).toBe('invalid policy gate.yml: 10 problems; fix them (nothing is checked under a policy that does not load)');
      expect(lines.slice(1)).toEqual(got);
    }
  });

  it('refuses unknown keys at every depth, naming where a misplaced key belongs', () => {
    const yaml = [
      'version: 1',
      'colour: red',
      'defaults:',
      '  tags: { maxAge: 90d }',
      'rules:',
      '  - name: r',
      '    match: { image: ["ghcr.io/*"] }',
      '    signatures:',
      '      keyless:',
      '        - identity: x',
      '          issuer: y',
      '          github: { repo: acme/app }',
      '',
    ].join('\n');
    expect(problems(yaml)).toEqual([
      'gate.yml:2:1: colour: unknown key (expected one of version, defaults, rules, exceptions)',
      'gate.yml:4:11: defaults.tags.maxAge: unknown key here (maxAge is a key of base, image)',
      'gate.yml:7:14: rules[0].match.image: unknown key (did you mean images?)',
      'gate.yml:12:21: rules[0].signatures.keyless[0].github.repo: unknown key (expected one of repository, ref, workflow, sha, owner, signerRepository, signerWorkflow, runner)',
    ]);
  });

  it('says how the ledger trust is written when mode is given tofu or strict', () => {
    expect(problems('version: 1\ndefaults:\n  ledger: { mode: strict }\n')).toEqual([
      'gate.yml:3:19: defaults.ledger.mode: expected "enforce", "warn", "off"; got "strict"; the ledger\'s trust on first use is set with `trust: strict`',
    ]);
  });

  it('refuses a missing or wrong version, a document that is not a mapping, and a rule without a name', () => {
    expect(problems('version: 2\n')).toEqual(['gate.yml:1:10: version: expected version: 1 (the only policy format so far)']);
    expect(problems('rules: []\n')).toEqual(['gate.yml:1:1: version: required']);
    expect(problems('')).toEqual(['gate.yml: version: required']);
    expect(problems('- a\n')).toEqual(['gate.yml:1:1: expected a mapping, got a list']);
    expect(problems('version: 1\nrules:\n  - match: { roles: [app] }\n    tags: {}\n')).toEqual(['gate.yml:3:5: rules[0].name: required']);
  });

  it('refuses a key written twice, and reports every YAML error', () => {
    expect(problems('version: 1\ndefaults:\n  base: { mode: enforce, mode: warn }\n')).toEqual(['gate.yml:3:26: this key is already set above in the same mapping']);
    const bad = problems('version: 1\nrules: [\n  - name: x\ndefaults: {\n');
    expect(bad.length).toBeGreaterThan(0);
    expect(bad.every((p) => /^gate\.yml:\d+:\d+: invalid YAML: /.test(p))).toBe(true);
    expect(problems('version: 1\n---\nversion: 1\n')).toEqual(['gate.yml:2:1: a policy file holds one YAML document; remove the second one']);
  });

  it('refuses bad globs, regexps, references, platforms and rule ids', () => {
    const yaml = [
      'version: 1', //                                                 1
      'rules:', //                                                     2
      '  - name: r', //                                                3
      '    match: { images: ["ghcr.io/Acme/*", "ghcr.io/a/b:v1", "***"] }', // 4
      '    base: { allowed: ["*"], candidates: ["ruby:3.3 slim"] }', //     5
      '    tags: { forbid: ["v1/x"] }', //                                  6
      '    platforms: { require: [amd64] }', //                             7
      '    signatures:', //                                                 8
      '      repository: ghcr.io/acme/sigs:v1', //                          9
      '      keyless: [{ identityRegexp: "(", issuer: x }]', //            10
      'exceptions:', //                                                    11
      '  - images: ["ghcr.io/a/b@sha256:00"]', //                          12
      '    rules: [foo.bar, Base.*]', //                                   13
      '    reason: r', //                                                  14
      '    expires: 2030-01-01', //                                        15
      '',
    ].join('\n');
    expect(problems(yaml)).toEqual([
      'gate.yml:4:23: rules[0].match.images[0]: image names are lowercase',
      'gate.yml:4:41: rules[0].match.images[1]: this pattern names a tag, but rules match the repository (registry/name) only: forbid tags with tags.forbid, or waive one tag with an exception',
      'gate.yml:4:59: rules[0].match.images[2]: "***" means nothing: use * (within a path segment) or ** (across segments)',
      'gate.yml:5:23: rules[0].base.allowed[0]: "*" does not match across "/": use ** to match every image',
      'gate.yml:5:42: rules[0].base.candidates[0]: invalid image reference "ruby:3.3 slim": reference contains white space',
      'gate.yml:6:22: rules[0].tags.forbid[0]: a tag pattern may contain only letters, digits, "_", ".", "-", "*" and "?"',
      'gate.yml:7:28: rules[0].platforms.require[0]: expected os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7',
      'gate.yml:9:19: rules[0].signatures.repository: name a repository, without tag or digest',
      expect.stringMatching(/^gate\.yml:10:35: rules\[0\]\.signatures\.keyless\[0\]\.identityRegexp: not a valid regular expression: /),
      'gate.yml:12:14: exceptions[0].images[0]: digests cannot be matched by a pattern: name the repository (and tag)',
      'gate.yml:13:13: exceptions[0].rules[0]: no finding rule id starts with "foo." (rule ids start with ledger., signature., attestation., base., image., tag., platform., config.)',
      'gate.yml:13:22: exceptions[0].rules[1]: a rule id pattern may contain only lowercase letters, digits, "_", ".", "*" and "?" (e.g. base.too_old, base.*)',
    ]);
  });

  it('refuses signer lists that cannot be satisfied, and groups that require nothing', () => {
    const yaml = [
      'version: 1', //                                       1
      'rules:', //                                           2
      '  - name: none', //                                   3
      '    match: { roles: [app] }', //                      4
      '  - name: r', //                                      5
      '    signatures:', //                                  6
      '      count: 4', //                                   7
      '      keys: [keys/a.pub, missing.pub]', //            8
      '      keyless:', //                                   9
      '        - identity: a', //                            10
      '          identityRegexp: b', //                      11
      '    attestations:', //                                12
      '      require:', //                                   13
      '        - type: spdx', //                             14
      '          signedBy: { key: keys/a.pub, issuer: x }', // 15
      '        - type: not a uri', //                        16
      '    platforms: { mode: enforce }', //                 17
      '  - name: s', //                                      18
      '    signatures: { mode: warn }', //                   19
      '    attestations: {}', //                             20
      '    ledger: { trust: maybe }', //                     21
      '    image: { maxAge: 0d }', //                        22
      '',
    ].join('\n');
    expect(problems(yaml)).toEqual([
      'gate.yml:3:5: rules[0]: the rule requires nothing: give it at least one of ledger, signatures, attestations, base, image, tags, platforms, config',
      'gate.yml:7:14: rules[1].signatures.count: count is 4 but only 3 signers are listed',
      'gate.yml:8:26: rules[1].signatures.keys[1]: key file missing.pub does not exist (looked for /p/missing.pub; paths are relative to the policy file)',
      'gate.yml:10:11: rules[1].signatures.keyless[0]: give issuer or issuerRegexp',
      'gate.yml:11:11: rules[1].signatures.keyless[0].identityRegexp: give identity or identityRegexp, not both',
      'gate.yml:15:11: rules[1].attestations.require[0].signedBy: give either a key or a keyless identity and issuer, not both',
      'gate.yml:16:17: rules[1].attestations.require[1].type: expected slsa-provenance, spdx, cyclonedx or a predicate type URI (https://…)',
      'gate.yml:17:5: rules[1].platforms: list the platforms under require, or write require: builder (or set mode: off)',
      'gate.yml:19:5: rules[2].signatures: name at least one signer under keys or keyless (or set mode: off)',
      'gate.yml:20:5: rules[2].attestations: list the attestations under require (or set mode: off)',
      'gate.yml:21:22: rules[2].ledger.trust: expected "tofu", "strict"; got "maybe"',
      'gate.yml:22:22: rules[2].image.maxAge: "0d": a duration must be at least 1',
    ]);
  });

  it('accepts groups switched off without their requirements', () => {
    expect(() =>
      parsePolicy('version: 1\nrules:\n  - name: r\n    signatures: { mode: off }\n    attestations: { mode: off }\n    platforms: { mode: off }\n', 'gate.yml', { exists: () => false }),
    ).not.toThrow();
  });
});

describe('finding the policy', () => {
  it('uses --policy first, resolved against the working folder, and resolves key files against the policy file', async () => {
    const dir = folder({
      '.kamal/gate-policy.yml': 'version: 1\n',
      'ops/gate.yml': 'version: 1\nrules:\n  - name: r\n    signatures: { keys: [keys/cosign.pub] }\n',
      'ops/keys/cosign.pub': 'PEM',
    });
    const loaded = await loadPolicy({ path: 'ops/gate.yml', cwd: dir });
    expect(loaded.origin).toBe('explicit');
    expect(loaded.path).toBe(join(dir, 'ops/gate.yml'));
    expect(loaded.policy.file).toBe('ops/gate.yml');
    expect(loaded.policy.rules[0]!.groups.signatures!.value.keys).toEqual([{ path: 'keys/cosign.pub', resolved: join(dir, 'ops/keys/cosign.pub') }]);
  });

  it('refuses a key file that is not beside the policy, even if it is in the working folder', async () => {
    const dir = folder({ 'ops/gate.yml': 'version: 1\nrules:\n  - name: r\n    signatures: { keys: [cosign.pub] }\n', 'cosign.pub': 'PEM' });
    await expect(loadPolicy({ path: 'ops/gate.yml', cwd: dir })).rejects.toThrow(
      `ops/gate.yml:4:26: rules[0].signatures.keys[0]: key file cosign.pub does not exist (looked for ${join(dir, 'ops/cosign.pub')}; paths are relative to the policy file)`,
    );
  });

  it('uses .kamal/gate-policy.yml when present', async () => {
    const dir = folder({ '.kamal/gate-policy.yml': 'version: 1\nrules:\n  - name: mine\n    image: { maxAge: 1d }\n' });
    const loaded = await loadPolicy({ cwd: dir });
    expect(loaded.origin).toBe('project');
    expect(loaded.policy.file).toBe('.kamal/gate-policy.yml');
    expect(loaded.policy.rules.map((r) => r.name)).toEqual(['mine']);
  });

  it('falls back to the built-in baseline', async () => {
    const loaded = await loadPolicy({ cwd: folder({}) });
    expect(loaded.origin).toBe('builtin');
    expect(loaded.path).toBe(shippedPolicyPath('baseline.yml'));
    expect(loaded.policy.rules.map((r) => r.name)).toEqual(['app-not-latest']);
  });

  it('reports a policy file that cannot be read, with exit code 2', async () => {
    const dir = folder({});
    const err = await loadPolicy({ path: 'nope.yml', cwd: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).exitCode).toBe(2);
    expect((err as PolicyError).message).toBe('cannot read the policy\nnope.yml: no such file (`kamal-gate policy init` writes a starter)');
  });

  it('reports an invalid project policy at its path', async () => {
    const dir = folder({ '.kamal/gate-policy.yml': 'version: 1\ndefaults:\n  tags:\n    forbid: latest\n' });
    await expect(loadPolicy({ cwd: dir })).rejects.toThrow('.kamal/gate-policy.yml:4:13: defaults.tags.forbid: expected a list, got "latest"');
  });
});

describe('the shipped policies', () => {
  const shipped = ['baseline.yml', 'strict.yml', 'starter.yml'] as const;
  it.each(shipped)('%s loads without errors', async (name) => {
    const loaded = await loadPolicy({ path: shippedPolicyPath(name), cwd: tmp });
    expect(loaded.policy.version).toBe(1);
  });

  it('the starter written by `policy init` requires what the baseline requires', async () => {
    const baseline = (await loadPolicy({ path: shippedPolicyPath('baseline.yml'), cwd: tmp })).policy;
    const starter = (await loadPolicy({ path: shippedPolicyPath('starter.yml'), cwd: tmp })).policy;
    const values = (p: typeof baseline, ref: string, role: 'app' | 'accessory' | 'proxy') => Object.fromEntries(Object.entries(requirementsFor(p, { ref, role }).groups).map(([g, s]) => [g, s.value]));
    for (const role of ['app', 'accessory', 'proxy'] as const) {
      expect(values(starter, 'ghcr.io/acme/app:v1', role)).toEqual(values(baseline, 'ghcr.io/acme/app:v1', role));
    }
  });
});
