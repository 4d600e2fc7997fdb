/**
 * GitHub artifact attestations checked as `gh attestation verify oci://IMAGE --owner|--repo …` checks them, through
 * the built CLI against a real docker-registry 2.8: the gh-style flags of `verify` (--attestation-owner,
 * --attestation-repo, --attestation-signer-repo, --attestation-signer-workflow, --attestation-oidc-issuer,
 * --predicate-type, --deny-self-hosted-runners) and the same requirements written in a policy
 * (attestations.require[].signedBy.github: owner, repository, signerRepository, signerWorkflow, runner).
 *
 * The bundles are what actions/attest-build-provenance makes: a SLSA v1 provenance statement signed keyless
 * (@sigstore/sign against @sigstore/mock) with the claims of a GitHub Actions OIDC token, which the mock Fulcio
 * copies into the certificate's extensions (Source Repository URI, Owner URI, Build Signer URI, Runner
 * Environment, …), attached as an OCI referrer with @sigstore/oci `attachArtifactToImage` as actions/attest does.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachArtifactToImage, getRegistryCredentials } from '@sigstore/oci';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { signatureRules, verifyReport, type VerifyReport } from '../helpers/verify-report.js';
import { ImageBuilder, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startMockSigstore, type MockSigstore } from './sigstore-mock.js';

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
const SLSA_V1 = 'https://slsa.dev/provenance/v1';
const SPDX = 'https://spdx.dev/Document';
const RELEASE = '.github/workflows/release.yml';
const CLI_TIMEOUT = 180_000;

let reg: TestRegistry;
let sigstore: MockSigstore;
let b: ImageBuilder;
let work: string;
let root: string;
let docker: string;
let emptyPolicy: string;

type Report = VerifyReport;

function verify(refs: string[], args: string[], policyFile = emptyPolicy): ReturnType<typeof verifyReport> {
  return verifyReport([...refs, '--policy', policyFile, '--no-ledger', '--trusted-root', root, ...args], { cwd: work, env: { DOCKER_CONFIG: docker } });
}

const rules = signatureRules;
const only = (r: Report) => {
  const found = (r.images[0]?.findings ?? []).filter((f) => /^attestation\./.test(f.rule));
  expect(found).toHaveLength(1);
  return found[0]!;
};

function policy(name: string, yaml: string): string {
  const p = join(work, name);
  writeFileSync(p, yaml);
  return p;
}

/** A provenance requirement signed by `github` claims (YAML flow mapping), as `gh attestation verify` would check it. */
const ghPolicy = (name: string, github: string, type = SLSA_V1) =>
  policy(name, `version: 1\ndefaults:\n  attestations:\n    require:\n      - type: ${type}\n        signedBy:\n          github: ${github}\n`);

interface Run {
  /** owner/name the workflow ran in. */
  repository?: string;
  /** owner/name/path@ref of the workflow that signed (the job_workflow_ref claim): a reusable workflow elsewhere. */
  signer?: string;
  runner?: 'github-hosted' | 'self-hosted';
}

/**
 * The claims of a GitHub Actions OIDC token (docs "About security hardening with OpenID Connect"). Real Fulcio puts
 * https://github.com/<job_workflow_ref> in the SAN; the mock takes the SAN from the `email` claim, so it carries that URL.
 */
function githubToken(run: Run = {}): Record<string, unknown> {
  const repository = run.repository ?? 'acme/app';
  const ref = 'refs/heads/main';
  const signer = run.signer ?? `${repository}/${RELEASE}@${ref}`;
  return {
    iss: GITHUB_ISSUER,
    email: `https://github.com/${signer}`,
    sub: `repo:${repository}:ref:${ref}`,
    repository,
    repository_owner: repository.split('/')[0],
    repository_id: '101',
    repository_owner_id: '202',
    repository_visibility: 'public',
    workflow: 'Release',
    workflow_ref: `${repository}/${RELEASE}@${ref}`,
    job_workflow_ref: signer,
    ref,
    sha: 'a'.repeat(40),
    event_name: 'push',
    runner_environment: run.runner ?? 'github-hosted',
    run_id: '4242',
    run_attempt: '1',
  };
}

function provenance(img: PushedImage, repository: string): object {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: `${reg.host}/${img.repo}`, digest: { sha256: img.digest.slice(7) } }],
    predicateType: SLSA_V1,
    predicate: {
      buildDefinition: {
        buildType: 'https://actions.github.io/buildtypes/workflow/v1',
        externalParameters: { workflow: { ref: 'refs/heads/main', repository: `https://github.com/${repository}`, path: RELEASE } },
      },
      runDetails: { builder: { id: 'https://github.com/actions/runner/github-hosted' }, metadata: { invocationId: `https://github.com/${repository}/actions/runs/4242/attempts/1` } },
    },
  };
}

/** What actions/attest-build-provenance does with `push-to-registry: true`: sign, then attach the bundle as a referrer. */
async function attest(img: PushedImage, run: Run = {}): Promise<void> {
  const bundle = await sigstore.signStatement(provenance(img, run.repository ?? 'acme/app'), githubToken(run));
  const home = process.env.HOME;
  process.env.HOME = work;
  let credentials;
  try {
    credentials = getRegistryCredentials(`${reg.host}/${img.repo}`);
  } finally {
    process.env.HOME = home;
  }
  await attachArtifactToImage({
    credentials,
    imageName: `${reg.host}/${img.repo}`,
    imageDigest: img.digest,
    artifact: Buffer.from(JSON.stringify(bundle)),
    mediaType: bundle.mediaType as string,
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': SLSA_V1 },
  });
}

let hosted: PushedImage;
let selfHosted: PushedImage;
let reusable: PushedImage;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kg-gh-attest-'));
  [reg, sigstore] = await Promise.all([startRegistry({ auth: 'htpasswd' }), startMockSigstore()]);
  b = new ImageBuilder(reg);
  root = join(work, 'trusted_root.json');
  writeFileSync(root, JSON.stringify(sigstore.trustedRoot));
  docker = join(work, '.docker');
  mkdirSync(docker);
  writeFileSync(join(docker, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
  emptyPolicy = policy('empty.yml', 'version: 1\n');
  hosted = await b.pushImage('acme/app', 'hosted');
  await attest(hosted);
  selfHosted = await b.pushImage('acme/app', 'self-hosted');
  await attest(selfHosted, { runner: 'self-hosted' });
  // Built in acme/app by a reusable workflow of acme/shared: the signer (SAN, Build Signer URI) is that workflow.
  reusable = await b.pushImage('acme/app', 'reusable');
  await attest(reusable, { signer: 'acme/shared/.github/workflows/build.yml@refs/tags/v2' });
}, CLI_TIMEOUT);

afterAll(async () => {
  await Promise.all([reg?.stop(), sigstore?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('gh attestation verify flags on kamal-gate verify', { timeout: CLI_TIMEOUT }, () => {
  it('the right repository or owner passes, with every refinement gh offers', async () => {
    for (const args of [
      ['--attestation-repo', 'acme/app'],
      ['--attestation-owner', 'acme'],
      // Owner and repository names compare case-insensitively, as on GitHub and in gh.
      ['--attestation-repo', 'Acme/App'],
      ['--attestation-repo', 'acme/app', '--attestation-signer-workflow', `acme/app/${RELEASE}`, '--predicate-type', SLSA_V1, '--deny-self-hosted-runners', '--attestation-oidc-issuer', GITHUB_ISSUER],
      ['--attestation-owner', 'acme', '--attestation-signer-workflow', `github.com/acme/app/${RELEASE}`],
      ['--attestation-repo', 'acme/app', '--attestation-signer-repo', 'acme/app', '--predicate-type', 'slsa-provenance'],
    ]) {
      const r = await verify([hosted.ref], args);
      expect(rules(r.report), `${args.join(' ')}: ${r.stderr}`).toEqual([]);
      expect(r.code, args.join(' ')).toBe(0);
    }
  });

  it('another repository fails, and the finding names the repository the certificate carries', async () => {
    const r = await verify([hosted.ref], ['--attestation-repo', 'acme/other']);
    expect(r.code).toBe(1);
    const f = only(r.report);
    expect(f.rule).toBe('attestation.invalid');
    expect(f.fails).toBe(true);
    expect(f.setBy).toEqual({ rule: 'command line' });
    expect(f.message).toContain('GitHub repository is acme/app, expected acme/other');
    expect(f.message).toContain(`is not a workflow of https://github.com/acme/other`);
    expect(f.message).toContain('(required by the command line)');
  });

  it('another owner fails, naming the owner found', async () => {
    const r = await verify([hosted.ref], ['--attestation-owner', 'evil']);
    expect(r.code).toBe(1);
    const f = only(r.report);
    expect(f.rule).toBe('attestation.invalid');
    expect(f.message).toContain('GitHub owner (Source Repository Owner URI) is https://github.com/acme, expected https://github.com/evil');
    // --attestation-repo checks the owner too, as gh does.
    const repo = await verify([hosted.ref], ['--attestation-repo', 'evil/app']);
    expect(only(repo.report).message).toContain('GitHub owner (Source Repository Owner URI) is https://github.com/acme, expected https://github.com/evil');
    expect(repo.code).toBe(1);
  });

  it('a self-hosted runner passes by default and fails with --deny-self-hosted-runners', async () => {
    const ok = await verify([selfHosted.ref], ['--attestation-repo', 'acme/app']);
    expect(rules(ok.report), ok.stderr).toEqual([]);
    expect(ok.code).toBe(0);
    const denied = await verify([selfHosted.ref], ['--attestation-repo', 'acme/app', '--deny-self-hosted-runners']);
    expect(denied.code).toBe(1);
    const f = only(denied.report);
    expect(f.rule).toBe('attestation.invalid');
    expect(f.message).toContain('runner environment is self-hosted, expected github-hosted');
  });

  it('another predicate type fails as missing, and the finding names the type that was found', async () => {
    const r = await verify([hosted.ref], ['--attestation-repo', 'acme/app', '--predicate-type', SPDX]);
    expect(r.code).toBe(1);
    const f = only(r.report);
    expect(f.rule).toBe('attestation.missing');
    expect(f.message).toContain(`has no signed ${SPDX} attestation`);
    expect(f.message).toContain(`found attestations of other predicate types: ${SLSA_V1}`);
    expect(f.evidence!.otherPredicateTypes).toEqual([SLSA_V1]);
  });

  it('another signer workflow fails, naming the workflow that signed', async () => {
    const r = await verify([hosted.ref], ['--attestation-repo', 'acme/app', '--attestation-signer-workflow', 'acme/app/.github/workflows/other.yml']);
    expect(r.code).toBe(1);
    const f = only(r.report);
    expect(f.rule).toBe('attestation.invalid');
    expect(f.message).toContain(
      `signer workflow (certificate identity) is https://github.com/acme/app/${RELEASE}@refs/heads/main, expected https://github.com/acme/app/.github/workflows/other.yml@<ref>`,
    );
    // A workflow whose name only starts like the one wanted is another workflow.
    const prefix = await verify([hosted.ref], ['--attestation-repo', 'acme/app', '--attestation-signer-workflow', 'acme/app/.github/workflows/release.y']);
    expect(prefix.code).toBe(1);
  });

  it('another OIDC issuer fails', async () => {
    const r = await verify([hosted.ref], ['--attestation-repo', 'acme/app', '--attestation-oidc-issuer', 'https://token.actions.acme.ghe.com']);
    expect(r.code).toBe(1);
    const f = only(r.report);
    expect(f.rule).toBe('attestation.invalid');
    expect(f.message).toContain('https://token.actions.acme.ghe.com');
    expect(f.message).toContain(GITHUB_ISSUER);
  });

  it('a reusable workflow of another repository: --attestation-repo alone fails, --attestation-signer-repo names it', async () => {
    const repoOnly = await verify([reusable.ref], ['--attestation-repo', 'acme/app']);
    expect(repoOnly.code).toBe(1);
    expect(only(repoOnly.report).message).toContain(
      'signer (certificate identity) https://github.com/acme/shared/.github/workflows/build.yml@refs/tags/v2 is not a workflow of https://github.com/acme/app',
    );
    const ok = await verify([reusable.ref], ['--attestation-repo', 'acme/app', '--attestation-signer-repo', 'acme/shared']);
    expect(rules(ok.report), ok.stderr).toEqual([]);
    expect(ok.code).toBe(0);
    const wf = await verify([reusable.ref], ['--attestation-repo', 'acme/app', '--attestation-signer-workflow', 'acme/shared/.github/workflows/build.yml']);
    expect(wf.code, wf.stderr).toBe(0);
    const other = await verify([reusable.ref], ['--attestation-repo', 'acme/app', '--attestation-signer-repo', 'evil/shared']);
    expect(other.code).toBe(1);
    expect(only(other.report).message).toContain('is not a workflow of https://github.com/evil/shared');
  });

  it('flags only tighten: a policy that passes (or only warns) does not loosen them', async () => {
    const owner = ghPolicy('owner-acme.yml', '{ owner: acme }');
    expect((await verify([hosted.ref], [], owner)).code).toBe(0);
    const tightened = await verify([hosted.ref], ['--attestation-repo', 'acme/other'], owner);
    expect(tightened.code).toBe(1);
    expect(rules(tightened.report)).toEqual(['attestation.invalid:fail']);
    const warn = policy('warn.yml', `version: 1\ndefaults:\n  attestations:\n    mode: warn\n    require:\n      - type: ${SPDX}\n`);
    const r = await verify([hosted.ref], ['--attestation-repo', 'acme/app', '--deny-self-hosted-runners'], warn);
    expect(rules(r.report)).toEqual(['attestation.missing:warn']);
    expect(r.code).toBe(0);
    const both = await verify([selfHosted.ref], ['--attestation-repo', 'acme/app', '--deny-self-hosted-runners'], warn);
    expect(rules(both.report)).toEqual(['attestation.invalid:fail', 'attestation.missing:warn']);
    expect(both.code).toBe(1);
  });

  it('bad combinations and values are usage errors (exit 2) before any request', async () => {
    // Nothing listens on port 1: a request would end in exit 3, not 2.
    const ref = '127.0.0.1:1/acme/app:v1';
    const cases: Array<[string[], RegExp]> = [
      [['--attestation-owner', 'acme', '--attestation-repo', 'acme/app'], /give --attestation-owner or --attestation-repo, not both/],
      [['--deny-self-hosted-runners'], /--deny-self-hosted-runners needs --attestation-owner ORG or --attestation-repo OWNER\/NAME/],
      [['--predicate-type', SLSA_V1, '--attestation-signer-repo', 'acme/app'], /--attestation-signer-repo, --predicate-type need --attestation-owner/],
      [['--attestation-repo', 'acme'], /--attestation-repo: expected OWNER\/NAME/],
      [['--attestation-owner', 'acme/app'], /--attestation-owner: expected a GitHub organization or user name/],
      [['--attestation-repo', 'acme/app', '--attestation-signer-repo', 'acme/app', '--attestation-signer-workflow', `acme/app/${RELEASE}`], /not both .*each names who signed/],
      [['--attestation-repo', 'acme/app', '--attestation-signer-workflow', `acme/app/${RELEASE}@refs/heads/main`], /without @ref/],
      [['--attestation-repo', 'acme/app', '--attestation-signer-workflow', 'release.yml'], /expected owner\/name\/\.github\/workflows\/file\.yml/],
      [['--attestation-repo', 'acme/app', '--attestation-signer-workflow', `ghe.example.com/acme/app/${RELEASE}`], /only github\.com workflows/],
      [['--attestation-repo', 'acme/app', '--predicate-type', 'provenance please'], /--predicate-type: expected a predicate type URI/],
      [['--attestation-repo', 'acme/app', '--attestation-oidc-issuer', 'token.actions'], /--attestation-oidc-issuer: expected the issuer's URL/],
      [['--attestation-repo', ''], /--attestation-repo: empty value/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['verify', ref, '--policy', emptyPolicy, '--no-ledger', '--format', 'json', ...args], { cwd: work });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });
});

describe('the same requirements in a policy: attestations.require[].signedBy.github', { timeout: CLI_TIMEOUT }, () => {
  it('repository or owner alone (identity and issuer left out, as gh) passes the right one', async () => {
    for (const [name, github] of [
      ['repo.yml', '{ repository: acme/app }'],
      ['owner.yml', '{ owner: acme }'],
      ['all.yml', `{ repository: acme/app, owner: acme, signerWorkflow: acme/app/${RELEASE}, runner: github-hosted }`],
    ] as const) {
      const r = await verify([hosted.ref], [], ghPolicy(name, github));
      expect(rules(r.report), `${name}: ${r.stderr}`).toEqual([]);
      expect(r.code, name).toBe(0);
    }
    // With an explicit identity and issuer, the GitHub claims are checked on top.
    const explicit = policy(
      'explicit.yml',
      `version: 1\ndefaults:\n  attestations:\n    require:\n      - type: slsa-provenance\n        signedBy:\n          identity: https://github.com/acme/app/${RELEASE}@refs/heads/main\n          issuer: ${GITHUB_ISSUER}\n          github: { owner: acme, runner: github-hosted }\n`,
    );
    expect((await verify([hosted.ref], [], explicit)).code).toBe(0);
  });

  it('another repository, owner, runner, predicate type or signer workflow fails with a finding naming what differed', async () => {
    const cases: Array<[string, PushedImage, string, string, string]> = [
      ['p-repo.yml', hosted, '{ repository: acme/other }', SLSA_V1, 'GitHub repository is acme/app, expected acme/other'],
      ['p-owner.yml', hosted, '{ owner: evil }', SLSA_V1, 'GitHub owner (Source Repository Owner URI) is https://github.com/acme, expected https://github.com/evil'],
      ['p-runner.yml', selfHosted, '{ repository: acme/app, runner: github-hosted }', SLSA_V1, 'runner environment is self-hosted, expected github-hosted'],
      ['p-workflow.yml', hosted, '{ repository: acme/app, signerWorkflow: acme/app/.github/workflows/other.yml }', SLSA_V1, 'expected https://github.com/acme/app/.github/workflows/other.yml@<ref>'],
      ['p-signer-repo.yml', reusable, '{ repository: acme/app }', SLSA_V1, 'is not a workflow of https://github.com/acme/app'],
      ['p-type.yml', hosted, '{ repository: acme/app }', SPDX, `found attestations of other predicate types: ${SLSA_V1}`],
    ];
    for (const [name, img, github, type, message] of cases) {
      const r = await verify([img.ref], [], ghPolicy(name, github, type));
      expect(r.code, `${name}: ${r.stderr}`).toBe(1);
      const f = only(r.report);
      expect(f.rule).toBe(type === SLSA_V1 ? 'attestation.invalid' : 'attestation.missing');
      expect(f.setBy?.rule).toBe('defaults');
      expect(f.message, name).toContain(message);
    }
    // And the reusable workflow is accepted once its repository is named.
    const shared = await verify([reusable.ref], [], ghPolicy('p-shared.yml', '{ repository: acme/app, signerRepository: acme/shared }'));
    expect(shared.code, shared.stderr).toBe(0);
  });

  it('policy explain describes the requirement; bad combinations are policy errors (exit 2)', async () => {
    const explain = await runCli(['policy', 'explain', hosted.ref, '--policy', ghPolicy('explain.yml', '{ repository: acme/app, runner: github-hosted }')], { cwd: work });
    expect(explain.code, explain.stderr).toBe(0);
    expect(explain.stdout).toContain(`keyless any workflow of github.com/acme/app from ${GITHUB_ISSUER}`);
    const bad: Array<[string, string, RegExp]> = [
      [
        'b-two-signers.yml',
        '{ repository: acme/app, signerRepository: acme/shared, signerWorkflow: acme/shared/.github/workflows/build.yml }',
        /give only one of identity, identityRegexp, github\.signerRepository and github\.signerWorkflow/,
      ],
      ['b-unscoped.yml', '{ ref: refs/heads/main }', /give identity or identityRegexp/],
      ['b-runner.yml', '{ repository: acme/app, runner: self-hosted }', /runner/],
      ['b-workflow.yml', '{ repository: acme/app, signerWorkflow: release.yml }', /expected owner\/name\/\.github\/workflows\/file\.yml/],
      ['b-owner.yml', '{ owner: acme/app }', /expected a GitHub organization or user name/],
    ];
    for (const [name, github, message] of bad) {
      const r = await verify([hosted.ref], [], ghPolicy(name, github));
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expect(r.stderr, name).toMatch(message);
    }
    // A ledger checkpoint signer does not take the new claims: identity and issuer stay required there.
    const cp = policy('b-checkpoint.yml', 'version: 1\ndefaults:\n  ledger:\n    checkpoint:\n      keyless:\n        - github: { owner: acme }\n');
    const r = await verify([hosted.ref], [], cp);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/give identity or identityRegexp/);
  });
});
