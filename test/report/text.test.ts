/**
 * The text report prints what registries, signatures and configs put into messages: control
 * characters in them are shown escaped, never acted on by the terminal or turned into extra lines.
 */
import { describe, expect, it } from 'vitest';
import { printable, printableLines } from '../../src/printable.js';
import { renderVerifyText } from '../../src/report/text.js';
import { HOSTILE, sampleReport } from './fixture.js';

// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

describe('text report with hostile strings', () => {
  it('escapes control characters in finding messages, remedies, image errors and notes', () => {
    const clean = renderVerifyText(sampleReport());
    const report = sampleReport();
    report.images[0]!.findings![0]!.message = HOSTILE;
    report.images[0]!.findings![0]!.remedy = HOSTILE;
    report.images[2]!.error!.message = HOSTILE;
    report.notes.push(HOSTILE);
    const text = renderVerifyText(report);
    expect(text).not.toMatch(CONTROL_BUT_NEWLINE);
    expect(text).toContain('\\u001b[31m');
    // The CR LF inside the hostile string forges no line: the report has as many lines as before.
    expect(text.split('\n').length).toBe(clean.split('\n').length + 1); // + the added note
    expect(text.split('\n').some((l) => l.startsWith('line2:'))).toBe(false);
  });

  it('printable keeps one line and caps it; printableLines keeps newlines and tabs only', () => {
    expect(printable('a\nb\u001b[2Jc')).toBe('a\\u000ab\\u001b[2Jc');
    expect(printable('x'.repeat(10), 4)).toBe('xxxx… (10 characters)');
    expect(printableLines('one\n\ttwo\u001b]0;title\u0007')).toBe('one\n\ttwo\\u001b]0;title\\u0007');
  });
});

describe('lint text report with hostile strings', () => {
  it('escapes control characters in messages, remedies and notes, as the verify report does', async () => {
    const { renderLintText } = await import('../../src/cli/lint.js');
    const { LINT_SCHEMA } = await import('../../src/report/lint-model.js');
    const base = sampleReport();
    const finding = { ...base.images[0]!.findings![0]!, message: HOSTILE, remedy: HOSTILE, image: { role: 'app', name: 'web', ref: 'r' } };
    const text = renderLintText({
      schema: LINT_SCHEMA,
      tool: base.tool,
      config: 'config/deploy.yml',
      files: ['config/deploy.yml'],
      policy: { file: 'policy.yml', origin: 'file' },
      findings: [finding],
      notes: [HOSTILE],
      exitCode: 0,
    });
    expect(text).not.toMatch(CONTROL_BUT_NEWLINE);
    expect(text).toContain('\\u001b[31m');
    expect(text.split('\n').some((l) => l.startsWith('line2:'))).toBe(false);
  });
});
