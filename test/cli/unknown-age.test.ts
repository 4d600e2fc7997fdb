/**
 * "Unknown is never a silent pass", through `kamal-gate verify` against the real registry: an image
 * whose age cannot be told (created in 2099, in 1970, not a date, absent) under image.maxAge is an
 * image.unknown_age finding governed by the image group's mode; a base that the image names but
 * whose layers do not begin the image's is a base.unconfirmed finding governed by base.unknown.
 * Both reach every output format (json, text, sarif, github) and can be waived by an exception.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { buildImage, ImageBuilder, MediaType, type PushedImage } from '../helpers/image-builder.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString().replace(/\.\d+Z$/, 'Z');
const BASE_NAME = 'org.opencontainers.image.base.name';
const BASE_DIGEST = 'org.opencontainers.image.base.digest';

let reg: TestRegistry;
let work: string;
const ref: Record<string, string> = {};

interface Finding {
  rule: string;
  severity: string;
  mode: string;
  fails: boolean;
  message: string;
  remedy?: string;
  evidence: Record<string, unknown>;
  waivedBy?: { reason: string };
}
interface Report {
  exitCode: number;
  images: Array<{ ref: string; findings?: Finding[]; base?: { source: string; name?: string; confirmedByLayers?: boolean } }>;
}
interface Sarif {
  runs: Array<{
    tool: { driver: { rules: Array<{ id: string; shortDescription: { text: string } }> } };
    results: Array<{ ruleId: string; level: string; message: { text: string } }>;
  }>;
}

function run(refs: string[], policy: string, format: 'json' | 'text' | 'sarif' | 'github'): Promise<CliResult> {
  return runCli(['verify', ...refs, '--policy', policy, '--no-ledger', '--format', format], { cwd: work });
}

async function verify(refs: string[], policy: string): Promise<{ code: number; report: Report; stderr: string }> {
  const r = await run(refs, policy, 'json');
  return { code: r.code, report: JSON.parse(r.stdout || '{}') as Report, stderr: r.stderr };
}

function policyFile(name: string, yaml: string): string {
  const p = join(work, name);
  writeFileSync(p, yaml.replaceAll('REG', reg.host));
  return p;
}

const rules = (r: Report, i = 0) => (r.images[i]!.findings ?? []).map((f) => `${f.rule}:${f.fails ? 'fail' : f.waivedBy ? 'waived' : f.mode}`).sort();
const finding = (r: Report, rule: string, i = 0) => r.images[i]!.findings!.find((f) => f.rule === rule)!;

const imagePolicy = (mode: 'enforce' | 'warn') => `version: 1
defaults:
  image:
    mode: ${mode}
    maxAge: 30d
`;

/** An image whose config has no `created` at all (the builder always writes one): pushed by hand. */
async function pushWithoutCreated(b: ImageBuilder, repo: string, tag: string): Promise<string> {
  const m = buildImage({ seed: 'no-created', created: ago(1) }).manifests[0]!;
  const { created: _created, ...config } = m.config.json;
  const bare = { ...config, history: config.history.map(({ created: _c, ...h }) => h) };
  const cfg = await b.pushBlob(repo, Buffer.from(JSON.stringify(bare)), MediaType.ociConfig);
  for (const l of m.layers) await b.pushBlob(repo, l.bytes, l.descriptor.mediaType);
  await b.pushManifest(repo, tag, { schemaVersion: 2, mediaType: MediaType.ociManifest, config: cfg, layers: m.layers.map((l) => l.descriptor) });
  return `${reg.host}/${repo}:${tag}`;
}

beforeAll(async () => {
  reg = await startRegistry({ auth: 'none' });
  work = mkdtempSync(join(tmpdir(), 'kg-unknown-age-'));
  const b = new ImageBuilder(reg);
  ref.future = (await b.pushImage('acme/future', 'v1', { seed: 'future', created: '2099-01-01T00:00:00Z' })).ref;
  ref.epoch = (await b.pushImage('acme/epoch', 'v1', { seed: 'epoch', created: '1970-01-01T00:00:00Z' })).ref;
  ref.notADate = (await b.pushImage('acme/not-a-date', 'v1', { seed: 'not-a-date', created: 'not-a-date' })).ref;
  ref.fresh = (await b.pushImage('acme/fresh', 'v1', { seed: 'fresh', created: ago(2) })).ref;
  // skew within the allowance (an hour ahead): the image counts as new, not unknown
  ref.skewed = (await b.pushImage('acme/skewed', 'v1', { seed: 'skewed', created: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z') })).ref;
  // ko/Jib: the epoch in the config, the real time in the created annotation
  ref.koStyle = (await b.pushImage('acme/ko-style', 'v1', { seed: 'ko', created: '1970-01-01T00:00:00Z', annotations: { 'org.opencontainers.image.created': ago(3) } })).ref;
  ref.absent = await pushWithoutCreated(b, 'acme/no-created', 'v1');

  const alpine: PushedImage = await b.pushImage('library/alpine', '3.20', { seed: 'alpine-320', created: ago(10) });
  const debian: PushedImage = await b.pushImage('library/debian', '12', { seed: 'debian-12', created: ago(5) });
  // built on alpine, but its annotation names debian:12 (no digest): no version of the tag matches
  ref.misnamed = (await b.pushImage('acme/misnamed', 'v1', { seed: 'misnamed', created: ago(1), base: alpine, annotations: { [BASE_NAME]: `${reg.host}/library/debian:12` } })).ref;
  // names debian:12 by digest too, and is still built on alpine
  ref.misdigested = (
    await b.pushImage('acme/misdigested', 'v1', { seed: 'misdigested', created: ago(1), base: alpine, annotations: { [BASE_NAME]: `${reg.host}/library/debian:12`, [BASE_DIGEST]: debian.digest } })
  ).ref;
  // named as a label, on a base that is not in the registry at all: nothing to compare
  ref.missingBase = (await b.pushImage('acme/missing-base', 'v1', { seed: 'missing-base', created: ago(1), base: alpine, labels: { [BASE_NAME]: `${reg.host}/library/gone:1` } })).ref;
  // the control: named and confirmed
  ref.honest = (
    await b.pushImage('acme/honest', 'v1', { seed: 'honest', created: ago(1), base: debian, annotations: { [BASE_NAME]: `${reg.host}/library/debian:12`, [BASE_DIGEST]: debian.digest } })
  ).ref;
});

afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('image.unknown_age', () => {
  it.each([
    ['future', '2099-01-01T00:00:00Z', /"2099-01-01T00:00:00Z" is in the future/],
    ['epoch', '1970-01-01T00:00:00Z', /"1970-01-01T00:00:00Z" is the Unix epoch/],
    ['notADate', 'not-a-date', /"not-a-date" is not an RFC 3339 time/],
  ])('created %s fails under enforce (exit 1) and names the image and the value', async (key, value, reason) => {
    const { code, report } = await verify([ref[key]!], policyFile('enforce.yml', imagePolicy('enforce')));
    expect(code).toBe(1);
    expect(report.exitCode).toBe(1);
    expect(rules(report)).toEqual(['image.unknown_age:fail']);
    const f = finding(report, 'image.unknown_age');
    expect(f.severity).toBe('medium');
    expect(f.message).toContain(ref[key]!);
    expect(f.message).toContain(JSON.stringify(value));
    expect(f.message).toMatch(reason);
    expect(f.message).toContain('30d');
    expect(f.remedy).toMatch(/real creation time/);
    expect(f.remedy).toMatch(/exception/);
    expect(f.evidence).toMatchObject({ created: value, maxAge: '30d', refused: [{ source: 'config', where: 'config created', value }] });
  });

  it.each(['future', 'epoch', 'notADate'])('created %s is reported but passes under warn (exit 0)', async (key) => {
    const { code, report } = await verify([ref[key]!], policyFile('warn.yml', imagePolicy('warn')));
    expect(code).toBe(0);
    expect(rules(report)).toEqual(['image.unknown_age:warn']);
  });

  it('an image without any creation time is unknown too', async () => {
    const { code, report } = await verify([ref.absent!], policyFile('enforce.yml', imagePolicy('enforce')));
    expect(code).toBe(1);
    expect(rules(report)).toEqual(['image.unknown_age:fail']);
    const f = finding(report, 'image.unknown_age');
    expect(f.message).toMatch(/no creation time at all/);
    expect(f.evidence).toMatchObject({ created: null, refused: [] });
  });

  it('a real date (even an hour ahead, or only in the created annotation) gives no finding', async () => {
    const { code, report } = await verify([ref.fresh!, ref.skewed!, ref.koStyle!], policyFile('enforce.yml', imagePolicy('enforce')));
    expect(code).toBe(0);
    expect(rules(report, 0)).toEqual([]);
    expect(rules(report, 1)).toEqual([]);
    expect(rules(report, 2)).toEqual([]);
  });

  it('without image.maxAge, or with the group off, nothing is asked of the age', async () => {
    const none = policyFile('no-max-age.yml', 'version: 1\ndefaults:\n  image:\n    mode: enforce\n');
    expect(rules((await verify([ref.future!], none)).report)).toEqual([]);
    const off = policyFile('off.yml', 'version: 1\ndefaults:\n  image:\n    mode: off\n    maxAge: 30d\n');
    const r = await verify([ref.future!], off);
    expect(r.code).toBe(0);
    expect(rules(r.report)).toEqual([]);
  });

  it('an exception waives it for the images it names', async () => {
    const p = policyFile(
      'waived.yml',
      `${imagePolicy('enforce')}exceptions:
  - images: ["REG/acme/epoch"]
    rules: [image.unknown_age]
    reason: "reproducible build, OPS-7"
    expires: 2999-12-31
`,
    );
    const { code, report } = await verify([ref.epoch!, ref.future!], p);
    expect(code).toBe(1);
    expect(rules(report, 0)).toEqual(['image.unknown_age:waived']);
    expect(rules(report, 1)).toEqual(['image.unknown_age:fail']);
    const only = await verify([ref.epoch!], p);
    expect(only.code).toBe(0);
  });

  it('appears in text, sarif and github output', async () => {
    const p = policyFile('enforce.yml', imagePolicy('enforce'));
    const text = await run([ref.future!], p, 'text');
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/FAIL medium image\.unknown_age: the age of .*acme\/future:v1 cannot be told/);
    expect(text.stdout).toContain('"2099-01-01T00:00:00Z" is in the future');

    const sarif = await run([ref.future!], p, 'sarif');
    expect(sarif.code).toBe(1);
    const log = JSON.parse(sarif.stdout) as Sarif;
    expect(log.runs[0]!.results).toEqual([expect.objectContaining({ ruleId: 'image.unknown_age', level: 'error' })]);
    expect(log.runs[0]!.results[0]!.message.text).toContain('2099-01-01T00:00:00Z');
    const rule = log.runs[0]!.tool.driver.rules.find((x) => x.id === 'image.unknown_age')!;
    expect(rule.shortDescription.text).toMatch(/age of the image cannot be told/);

    const github = await run([ref.future!], p, 'github');
    expect(github.code).toBe(1);
    expect(github.stdout).toMatch(/^::error [^\n]*title=image\.unknown_age[^\n]*::the age of [^\n]*acme\/future:v1 cannot be told/m);

    const warned = await run([ref.future!], policyFile('warn.yml', imagePolicy('warn')), 'github');
    expect(warned.code).toBe(0);
    expect(warned.stdout).toMatch(/^::warning [^\n]*title=image\.unknown_age/m);
  });
});

describe('base.unconfirmed', () => {
  const basePolicy = (unknown: 'enforce' | 'warn' | 'ignore') => `version: 1
defaults:
  base:
    mode: enforce
    unknown: ${unknown}
`;

  it('a base named by annotation whose layers do not match fails under base.unknown: enforce', async () => {
    const { code, report } = await verify([ref.misnamed!, ref.honest!], policyFile('base-enforce.yml', basePolicy('enforce')));
    expect(code).toBe(1);
    expect(rules(report, 0)).toEqual(['base.unconfirmed:fail']);
    expect(report.images[0]!.base).toMatchObject({ source: 'annotation', name: `${reg.host}/library/debian:12`, confirmedByLayers: false });
    const f = finding(report, 'base.unconfirmed');
    expect(f.severity).toBe('medium');
    expect(f.message).toContain(ref.misnamed!);
    expect(f.message).toContain(`${reg.host}/library/debian:12`);
    expect(f.message).toMatch(/annotation or label/);
    expect(f.message).toMatch(/no image the tag points to now has layers that begin the image's/);
    expect(f.evidence).toMatchObject({ source: 'annotation', confirmedByLayers: false });
    expect(f.evidence['tried']).toEqual(expect.arrayContaining([expect.stringMatching(/not a prefix|more than the image's/)]));
    // the honest image, named and confirmed, passes
    expect(rules(report, 1)).toEqual([]);
  });

  it('a base named by digest whose layers do not match names that digest', async () => {
    const { code, report } = await verify([ref.misdigested!], policyFile('base-enforce.yml', basePolicy('enforce')));
    expect(code).toBe(1);
    expect(rules(report)).toEqual(['base.unconfirmed:fail']);
    expect(finding(report, 'base.unconfirmed').message).toMatch(/the layers of .*library\/debian:12@sha256:[0-9a-f]{64} are not the first layers of the image/);
  });

  it('a named base that cannot be fetched to compare is unconfirmed too', async () => {
    const { code, report } = await verify([ref.missingBase!], policyFile('base-enforce.yml', basePolicy('enforce')));
    expect(code).toBe(1);
    expect(rules(report)).toEqual(['base.unconfirmed:fail']);
    const f = finding(report, 'base.unconfirmed');
    expect(f.message).toMatch(/library\/gone:1.*could not be compared/);
    expect(f.evidence).toMatchObject({ confirmedByLayers: null });
  });

  it('base.unknown: warn reports it and passes; ignore does not report it', async () => {
    const warn = await verify([ref.misnamed!], policyFile('base-warn.yml', basePolicy('warn')));
    expect(warn.code).toBe(0);
    expect(rules(warn.report)).toEqual(['base.unconfirmed:warn']);
    const ignore = await verify([ref.misnamed!], policyFile('base-ignore.yml', basePolicy('ignore')));
    expect(ignore.code).toBe(0);
    expect(rules(ignore.report)).toEqual([]);
  });

  it('an exception naming base.unconfirmed waives it', async () => {
    const p = policyFile(
      'base-waived.yml',
      `${basePolicy('enforce')}exceptions:
  - images: ["REG/acme/misnamed"]
    rules: [base.unconfirmed]
    reason: "base annotation fixed in the next release, OPS-9"
    expires: 2999-12-31
`,
    );
    const { code, report } = await verify([ref.misnamed!], p);
    expect(code).toBe(0);
    expect(rules(report)).toEqual(['base.unconfirmed:waived']);
  });

  it('appears in text, sarif and github output', async () => {
    const p = policyFile('base-enforce.yml', basePolicy('enforce'));
    const text = await run([ref.misnamed!], p, 'text');
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/FAIL medium base\.unconfirmed: .*acme\/misnamed:v1 names .*library\/debian:12 as its base/);

    const sarif = await run([ref.misnamed!], p, 'sarif');
    expect(sarif.code).toBe(1);
    const log = JSON.parse(sarif.stdout) as Sarif;
    expect(log.runs[0]!.results).toEqual([expect.objectContaining({ ruleId: 'base.unconfirmed', level: 'error' })]);
    const rule = log.runs[0]!.tool.driver.rules.find((x) => x.id === 'base.unconfirmed')!;
    expect(rule.shortDescription.text).toMatch(/not confirmed by its layers/);

    const github = await run([ref.misnamed!], p, 'github');
    expect(github.code).toBe(1);
    expect(github.stdout).toMatch(/^::error [^\n]*title=base\.unconfirmed[^\n]*::[^\n]*acme\/misnamed:v1 names /m);
  });
});
