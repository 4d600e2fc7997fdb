/**
 * The SARIF renderer: valid against the SARIF 2.1.0 JSON schema (the schema file shipped in the npm
 * package @microsoft/jest-sarif, lib/schemas/sarif-2.1.0-rtm.5.json, a JSON Schema draft-04 document,
 * validated with Ajv's draft-04 class and ajv-formats), with results located at the config and
 * policy lines and rule ids matching the findings'.
 */
import { describe, expect, it } from 'vitest';
import { renderVerifySarif, artifactUri } from '../../src/report/sarif.js';
import { HOSTILE, sampleReport } from './fixture.js';
import { sarifValidator } from './sarif-schema.js';

const validate = sarifValidator();

interface Sarif {
  $schema: string;
  version: string;
  runs: Array<{
    tool: { driver: { name: string; version: string; rules: Array<{ id: string; help?: { text: string }; defaultConfiguration: { level: string }; shortDescription: { text: string } }> } };
    invocations: Array<{ executionSuccessful: boolean; exitCode: number }>;
    results: Array<{
      ruleId: string;
      ruleIndex: number;
      level: string;
      message: { text: string };
      locations?: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number; startColumn?: number } } }>;
      suppressions?: Array<{ kind: string; justification: string }>;
      partialFingerprints: Record<string, string>;
    }>;
  }>;
}

function render(report = sampleReport()): Sarif {
  return JSON.parse(renderVerifySarif(report, { cwd: '/work/app' })) as Sarif;
}

describe('renderVerifySarif', () => {
  it('validates against the SARIF 2.1.0 schema', () => {
    const log = render();
    const ok = validate(log);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(log.$schema).toBe('https://json.schemastore.org/sarif-2.1.0.json');
    expect(log.version).toBe('2.1.0');
    expect(log.runs).toHaveLength(1);
  });

  it('the validator is not a pushover: it rejects a broken log', () => {
    const log = render() as unknown as { runs: Array<{ results: Array<Record<string, unknown>> }> };
    log.runs[0]!.results[0]!['level'] = 'fatal';
    expect(validate(log)).toBe(false);
    const noVersion = render() as unknown as Record<string, unknown>;
    delete noVersion['version'];
    expect(validate(noVersion)).toBe(false);
  });

  it('has a rule per rule id and a result per finding, error and policy finding, worst first', () => {
    const run = render().runs[0]!;
    expect(run.tool.driver).toMatchObject({ name: 'kamal-gate', version: '0.1.0' });
    expect(run.results.map((r) => [r.ruleId, r.level])).toEqual([
      ['tag.overwritten', 'error'],
      ['registry.tag_not_found', 'error'],
      ['base.too_old', 'warning'],
      ['policy.exception_expired', 'warning'],
      ['signature.unverified', 'note'],
    ]);
    const ids = run.tool.driver.rules.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of run.results) expect(run.tool.driver.rules[r.ruleIndex]!.id).toBe(r.ruleId);
    const overwritten = run.tool.driver.rules.find((r) => r.id === 'tag.overwritten')!;
    expect(overwritten.help?.text).toContain('kamal-gate record');
    expect(overwritten.defaultConfiguration.level).toBe('error');
    expect(overwritten.shortDescription.text).toMatch(/ledger/);
    expect(run.invocations[0]).toMatchObject({ executionSuccessful: false, exitCode: 3 });
  });

  it('locates image results at the config line and column, policy findings at the policy line', () => {
    const run = render().runs[0]!;
    const at = (rule: string) => run.results.find((r) => r.ruleId === rule)!.locations?.[0]?.physicalLocation;
    expect(at('tag.overwritten')).toEqual({ artifactLocation: { uri: 'config/deploy.yml' }, region: { startLine: 4, startColumn: 8 } });
    expect(at('registry.tag_not_found')).toEqual({ artifactLocation: { uri: 'config/deploy.staging.yml' }, region: { startLine: 11, startColumn: 12 } });
    expect(at('policy.exception_expired')).toEqual({ artifactLocation: { uri: '.kamal/gate-policy.yml' }, region: { startLine: 30, startColumn: 5 } });
    expect(run.results.find((r) => r.ruleId === 'registry.tag_not_found')!.message.text).toContain('no such tag');
  });

  it('marks a waived finding as a note with an external suppression giving the reason', () => {
    const waived = render().runs[0]!.results.find((r) => r.ruleId === 'signature.unverified')!;
    expect(waived.level).toBe('note');
    expect(waived.suppressions).toHaveLength(1);
    expect(waived.suppressions![0]).toMatchObject({ kind: 'external', justification: expect.stringContaining('TICKET-12') });
  });

  it('gives stable, distinct fingerprints', () => {
    const a = render().runs[0]!.results.map((r) => r.partialFingerprints['kamalGateFinding/v1']);
    const b = render().runs[0]!.results.map((r) => r.partialFingerprints['kamalGateFinding/v1']);
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(a.length);
    for (const f of a) expect(f).toMatch(/^[0-9a-f]{64}$/);
  });

  it('stays valid with hostile strings, absolute paths and an empty report', () => {
    const report = sampleReport();
    report.images[0]!.findings![1]!.message = HOSTILE;
    report.images[0]!.source = { file: '/work/app/config dir/deploy #1.yml', line: 2 };
    report.images[2]!.source = { file: '/elsewhere/deploy.yml', line: 1, column: 1 };
    const log = render(report);
    expect(validate(log)).toBe(true);
    expect(log.runs[0]!.results[0]!.message.text).toContain(HOSTILE);
    expect(artifactUri('/work/app/config dir/deploy #1.yml', '/work/app')).toBe('config%20dir/deploy%20%231.yml');
    expect(artifactUri('/elsewhere/deploy.yml', '/work/app')).toBe('file:///elsewhere/deploy.yml');
    const empty = render({ ...sampleReport(), images: [], policyFindings: [], notes: [], exitCode: 0 });
    expect(validate(empty)).toBe(true);
    expect(empty.runs[0]!.results).toEqual([]);
  });
});
