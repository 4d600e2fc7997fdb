/** GitHub workflow commands and the job summary. */
import { describe, expect, it } from 'vitest';
import { escapeData, escapeProperty, renderVerifyGithub, renderVerifySummaryMarkdown } from '../../src/report/github.js';
import { D1, HOSTILE, sampleReport } from './fixture.js';

/** Undoes GitHub's escapes, as the runner does. */
const unescape = (s: string) => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%');

describe('escaping', () => {
  it('escapes data and properties as GitHub documents', () => {
    expect(escapeData('100% done\r\nnext')).toBe('100%25 done%0D%0Anext');
    expect(escapeProperty('a:b,c%\n')).toBe('a%3Ab%2Cc%25%0A');
    expect(escapeData('%0A')).toBe('%250A'); // an escape sequence in the input stays literal
    for (const s of [HOSTILE, '%%2C%3A::,,\r\r\n']) {
      expect(unescape(escapeData(s))).toBe(s);
      expect(unescape(escapeProperty(s))).toBe(s);
    }
  });
});

describe('renderVerifyGithub', () => {
  it('prints one annotation per finding and error, worst first, located at the config or policy line', () => {
    const out = renderVerifyGithub(sampleReport()).trimEnd().split('\n');
    expect(out[0]).toMatch(/^::error file=config\/deploy\.yml,line=4,col=8,title=tag\.overwritten \(app shop\)::registry\.example\.com\/acme\/shop:v42 now points to /);
    expect(out[0]).toContain('%0AFix: find out who pushed');
    expect(out[1]).toMatch(/^::error file=config\/deploy\.staging\.yml,line=11,col=12,title=registry\.tag_not_found \(accessory db\)::accessory db: .* no such tag/);
    expect(out[2]).toMatch(/^::warning file=config\/deploy\.yml,line=4,col=8,title=base\.too_old \(app shop\)::/);
    expect(out[3]).toMatch(/^::warning file=\.kamal\/gate-policy\.yml,line=30,col=5,title=policy\.exception_expired::/);
    expect(out[4]).toMatch(/^::notice file=config\/deploy\.yml,line=4,col=8,title=signature\.unverified \(app shop\)::no signature could be verified%0AWaived until 2099-01-01: signing rolls out/);
    expect(out[5]).toBe('kamal-gate verify FAILED (could not verify): 1 image pinned, 1 could not be verified, 1 failing finding, 2 warnings, 1 waived');
    expect(out).toHaveLength(6);
  });

  it('keeps each annotation on one line whatever the message holds', () => {
    const report = sampleReport();
    report.images[0]!.findings![1]!.message = HOSTILE;
    report.images[0]!.source = { file: 'config/odd,name:1.yml', line: 4 };
    const out = renderVerifyGithub(report).trimEnd().split('\n');
    expect(out).toHaveLength(6);
    expect(out[0]).toMatch(/^::error file=config\/odd%2Cname%3A1\.yml,line=4,title=tag\.overwritten \(app shop\)::/);
    const message = out[0]!.slice(out[0]!.indexOf('::', 2) + 2);
    expect(unescape(message).startsWith(HOSTILE)).toBe(true);
    expect(message).not.toMatch(/[\r\n]/);
  });

  it('passing report: only the summary line', () => {
    const out = renderVerifyGithub({ ...sampleReport(), images: [sampleReport().images[1]!], policyFindings: [], exitCode: 0 });
    expect(out).toBe('kamal-gate verify passed: 0 images pinned\n');
  });
});

describe('renderVerifySummaryMarkdown', () => {
  it('has a table of images with digest and verdict, then the findings worst first', () => {
    const md = renderVerifySummaryMarkdown(sampleReport());
    expect(md).toMatch(/^## kamal-gate verify\n/);
    expect(md).toContain('`config/deploy.yml`, destination **staging**, version `v42`');
    expect(md).toContain(`| app shop | \`registry.example.com/acme/shop:v42\` | \`${D1.slice(0, 19)}\` | ❌ fail |`);
    expect(md).toContain('| app shop | `registry.example.com/acme/shop:latest-staging` | - | absent (alias, not a failure) |');
    expect(md).toContain('| accessory db | `registry.example.com/library/postgres:16.4` | tag_not_found | ❌ could not verify |');
    const rules = [...md.matchAll(/^\| [^|]+ \| \w+ \| `([a-z_.]+)` \|/gm)].map((m) => m[1]);
    expect(rules).toEqual(['tag.overwritten', 'registry.tag_not_found', 'base.too_old', 'policy.exception_expired', 'signature.unverified']);
  });

  it('keeps hostile text inside its table cell', () => {
    const report = sampleReport();
    report.images[0]!.findings![1]!.message = 'a | b\nc <script>';
    const md = renderVerifySummaryMarkdown(report);
    const row = md.split('\n').find((l) => l.includes('tag.overwritten'))!;
    expect(row).toContain('a \\| b c &lt;script&gt;');
  });
});
