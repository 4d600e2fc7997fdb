/**
 * JUnit XML: well-formed (checked by a small strict parser below: one root, balanced tags, quoted
 * attributes, only the five predefined entities and numeric references, no character XML 1.0
 * forbids), with the structure CI systems read.
 */
import { describe, expect, it } from 'vitest';
import { renderVerifyJunit, xmlAttr, xmlText } from '../../src/report/junit.js';
import { HOSTILE, sampleReport } from './fixture.js';

interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function decode(s: string): string {
  if (/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(s)) throw new Error(`bare & in ${JSON.stringify(s)}`);
  return s.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : ENTITIES[e]!,
  );
}

/** A strict parser for the subset JUnit output uses (declaration, elements, attributes, text). */
function parseXml(xml: string): El {
  if (FORBIDDEN.test(xml)) throw new Error('character not allowed in XML 1.0');
  let i = 0;
  const decl = /^<\?xml version="1\.0" encoding="UTF-8"\?>\n/.exec(xml);
  if (!decl) throw new Error('no XML declaration');
  i = decl[0].length;
  const root: El = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: El[] = [root];
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (text.includes('>')) throw new Error('bare > in text');
    stack.at(-1)!.text += decode(text);
    if (lt < 0) break;
    const gt = xml.indexOf('>', lt);
    const tag = xml.slice(lt + 1, gt);
    if (tag.includes('<')) throw new Error(`< inside a tag: ${tag}`);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const open = stack.pop()!;
      if (open.name !== tag.slice(1)) throw new Error(`</${tag.slice(1)}> closes <${open.name}>`);
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const m = /^([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"]*")*)\s*\/?$/.exec(tag);
    if (!m) throw new Error(`bad tag <${tag}>`);
    const el: El = { name: m[1]!, attrs: {}, children: [], text: '' };
    for (const a of m[2]!.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
      if (a[1]! in el.attrs) throw new Error(`duplicate attribute ${a[1]}`);
      el.attrs[a[1]!] = decode(a[2]!);
    }
    stack.at(-1)!.children.push(el);
    if (!selfClosing) stack.push(el);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  if (root.children.length !== 1 || root.text.trim()) throw new Error('not exactly one root element');
  return root.children[0]!;
}

const kids = (e: El, name: string) => e.children.filter((c) => c.name === name);

describe('xml escaping', () => {
  it('escapes markup and replaces characters XML 1.0 forbids', () => {
    expect(xmlText('a&b<c>"\'')).toBe('a&amp;b&lt;c&gt;"\'');
    expect(xmlAttr('a&b<c>"\'\n\t')).toBe('a&amp;b&lt;c&gt;&quot;&apos;&#10;&#9;');
    expect(xmlText('x\u0000\u0001\u001b\uFFFE\uD800y')).toBe('x\uFFFD\uFFFD\uFFFD\uFFFD\uFFFDy');
    expect(xmlText('emoji 🚀 ok')).toBe('emoji 🚀 ok');
  });

  it('round-trips a hostile string through the parser (minus the forbidden characters)', () => {
    const doc = parseXml(`<?xml version="1.0" encoding="UTF-8"?>\n<r a="${xmlAttr(HOSTILE)}">${xmlText(HOSTILE)}</r>`);
    const expected = HOSTILE.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD');
    expect(doc.attrs['a']).toBe(expected);
    expect(doc.text).toBe(expected);
  });
});

describe('renderVerifyJunit', () => {
  it('is well-formed, one testcase per image plus the policy, a failure per failing finding or error', () => {
    const suites = parseXml(renderVerifyJunit(sampleReport()));
    expect(suites.name).toBe('testsuites');
    const [suite, ...more] = kids(suites, 'testsuite');
    expect(more).toEqual([]);
    expect(suite!.attrs).toMatchObject({ name: 'kamal-gate verify', tests: '4', failures: '2', errors: '0', skipped: '1' });
    const cases = kids(suite!, 'testcase');
    expect(cases.map((c) => [c.attrs['classname'], c.attrs['name']])).toEqual([
      ['app', 'registry.example.com/acme/shop:v42'],
      ['app', 'registry.example.com/acme/shop:latest-staging'],
      ['accessory', 'registry.example.com/library/postgres:16.4'],
      ['policy', 'policy .kamal/gate-policy.yml'],
    ]);
    const [app, alias, db, policy] = cases;
    expect(kids(app!, 'failure').map((f) => f.attrs['type'])).toEqual(['tag.overwritten']);
    expect(kids(app!, 'failure')[0]!.text).toContain('at config/deploy.yml:4:8');
    const out = kids(app!, 'system-out')[0]!.text;
    expect(out).toContain('WARN medium base.too_old');
    expect(out).toContain('WAIVED high signature.unverified');
    expect(out).toContain('pinned: registry.example.com/acme/shop@sha256:');
    expect(kids(alias!, 'skipped')).toHaveLength(1);
    expect(kids(alias!, 'failure')).toHaveLength(0);
    expect(kids(db!, 'failure')[0]!.attrs).toMatchObject({ type: 'registry.tag_not_found', message: expect.stringContaining('no such tag') });
    expect(kids(policy!, 'failure')).toHaveLength(0);
    expect(kids(policy!, 'system-out')[0]!.text).toContain('policy.exception_expired');
    const props = Object.fromEntries(kids(kids(suite!, 'properties')[0]!, 'property').map((p) => [p.attrs['name'], p.attrs['value']]));
    expect(props).toMatchObject({ exitCode: '3', destination: 'staging', version: 'v42' });
  });

  it('stays well-formed with hostile messages, refs and errors', () => {
    const report = sampleReport();
    report.images[0]!.findings![1]!.message = HOSTILE;
    report.images[0]!.findings![0]!.message = HOSTILE;
    report.images[2]!.error!.message = HOSTILE;
    report.images[2]!.ref = `evil"ref'<&>`;
    report.policyFindings![0]!.fails = true;
    const suites = parseXml(renderVerifyJunit(report));
    const suite = kids(suites, 'testsuite')[0]!;
    expect(suite.attrs['failures']).toBe('3');
    const failure = kids(kids(suite, 'testcase')[0]!, 'failure')[0]!;
    expect(failure.attrs['message']).toBe(HOSTILE.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD'));
    expect(kids(suite, 'testcase')[2]!.attrs['name']).toBe(`evil"ref'<&>`);
  });

  it('the parser catches broken XML (so the checks above can fail)', () => {
    const ok = '<?xml version="1.0" encoding="UTF-8"?>\n';
    expect(() => parseXml(`${ok}<a><b></a></b>`)).toThrow();
    expect(() => parseXml(`${ok}<a x="1 & 2"/>`)).toThrow();
    expect(() => parseXml(`${ok}<a>\u0001</a>`)).toThrow();
    expect(() => parseXml(`${ok}<a/><b/>`)).toThrow();
  });
});
