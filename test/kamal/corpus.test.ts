/**
 * The corpus of real Kamal configs from public repositories (fixtures/kamal-configs; sources and
 * licences in its README). Every case (a fixture, a destination, a config file, an environment) is
 * read by readDeployPlan with version v1, in safe mode and with `erb: 'ruby'`, and compared with what
 * Kamal's own configuration code computes for it (expected.json, recorded once with Kamal's source).
 * Each result is classified accepted / refused-honestly / wrong, and the whole table must equal the
 * classification recorded per case in expected.json: the test documents the current state and fails
 * on any change, with the table and every difference in its message.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { readDeployPlan } from '../../src/kamal/index.js';
import type { DeployPlan } from '../../src/types.js';

const CORPUS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/kamal-configs');

type Mode = 'safe' | 'ruby';
type Class = 'accepted' | 'refused-honestly' | 'wrong';

interface Images {
  app: string;
  accessories: string[];
  proxy: string[];
}

interface KamalResult {
  accepted: boolean;
  images?: Images;
  error?: string;
  /** Kamal failed while rendering the ERB (a Ruby exception), not in its validation. */
  renderError?: boolean;
}

interface Case {
  id: string;
  fixture: string;
  destination?: string;
  configFile?: string;
  env: Record<string, string>;
  /** The ERB the files read use: none, only the safe subset the issue names, or Ruby beyond it. */
  erb: 'none' | 'safe' | 'ruby';
  /** What Kamal computes (with stubs for the commands the ERB runs, where it runs any). */
  kamal: KamalResult;
  /** What Kamal does on this machine without those stubs, where it differs. */
  kamalHere?: KamalResult;
  /** The classification recorded for kamal-gate, per mode. */
  classification: Record<Mode, Class>;
}

interface Outcome {
  cls: Class;
  detail: string;
}

const expected = JSON.parse(readFileSync(path.join(CORPUS, 'expected.json'), 'utf8')) as { cases: Case[] };

/** The environment a case is read with: a fixed PATH (Debian's ruby, git, sh) and the case's own variables, nothing of the test runner's. */
function envOf(c: Case): Record<string, string> {
  return { PATH: '/usr/bin:/bin', HOME: '/nonexistent', ...c.env };
}

function imagesOf(plan: DeployPlan): Images {
  const app = plan.targets.find((t) => t.role === 'app' && t.aliasOf === undefined);
  return {
    app: app?.ref ?? '(none)',
    accessories: plan.targets.filter((t) => t.role === 'accessory').map((t) => t.ref),
    proxy: plan.targets.filter((t) => t.role === 'proxy').map((t) => t.ref),
  };
}

const sorted = (list: string[]) => [...list].sort();
const sortedSet = (list: string[]) => [...new Set(list)].sort();

function differences(want: Images, got: Images): string[] {
  const out: string[] = [];
  if (want.app !== got.app) out.push(`app ${got.app}, Kamal ${want.app}`);
  if (JSON.stringify(sorted(want.accessories)) !== JSON.stringify(sorted(got.accessories))) {
    out.push(`accessories [${got.accessories.join(', ')}], Kamal [${want.accessories.join(', ')}]`);
  }
  if (JSON.stringify(sortedSet(want.proxy)) !== JSON.stringify(sortedSet(got.proxy))) out.push(`proxy [${got.proxy.join(', ')}], Kamal [${want.proxy.join(', ')}]`);
  return out;
}

async function classify(c: Case, mode: Mode): Promise<Outcome> {
  let plan: DeployPlan;
  try {
    plan = await readDeployPlan({
      cwd: path.join(CORPUS, c.fixture),
      ...(c.configFile !== undefined ? { configFile: c.configFile } : {}),
      ...(c.destination !== undefined ? { destination: c.destination } : {}),
      version: 'v1',
      env: envOf(c),
      erb: mode,
    });
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    if (!(e instanceof ConfigError)) return { cls: 'wrong', detail: `crash: ${e instanceof Error ? e.name : 'throw'}: ${message}` };
    const kamalRefuses = !c.kamal.accepted;
    const kamalFailsHere = mode === 'ruby' && c.kamalHere !== undefined && !c.kamalHere.accepted;
    const rubyBeyondSubset = mode === 'safe' && c.erb === 'ruby';
    if (kamalRefuses || kamalFailsHere || rubyBeyondSubset) return { cls: 'refused-honestly', detail: message };
    return { cls: 'wrong', detail: `refused although Kamal accepts: ${message}` };
  }
  if (!c.kamal.accepted) return { cls: 'wrong', detail: `accepted (app ${imagesOf(plan).app}) while Kamal refuses: ${c.kamal.error}` };
  const diff = differences(c.kamal.images!, imagesOf(plan));
  if (diff.length > 0) return { cls: 'wrong', detail: `different images: ${diff.join('; ')}` };
  return { cls: 'accepted', detail: imagesOf(plan).app };
}

function counts(rows: Record<string, Class>): string {
  const n = (cls: Class) => Object.values(rows).filter((v) => v === cls).length;
  return `accepted ${n('accepted')}, refused-honestly ${n('refused-honestly')}, wrong ${n('wrong')}`;
}

async function table(mode: Mode): Promise<{ actual: Record<string, Class>; recorded: Record<string, Class>; report: string }> {
  const actual: Record<string, Class> = {};
  const recorded: Record<string, Class> = {};
  const lines: string[] = [];
  for (const c of expected.cases) {
    const outcome = await classify(c, mode);
    actual[c.id] = outcome.cls;
    recorded[c.id] = c.classification[mode];
    const changed = outcome.cls === c.classification[mode] ? '' : `  (recorded: ${c.classification[mode]})`;
    lines.push(`${outcome.cls.padEnd(16)} ${c.id}${changed}\n${' '.repeat(17)}${outcome.detail}`);
  }
  const report = [`Kamal config corpus, ${mode} mode: ${counts(actual)} (recorded: ${counts(recorded)})`, ...lines].join('\n');
  // KAMAL_CORPUS_ACTUAL=<file>: also write the actual classification there (JSON), to update expected.json after a deliberate change.
  const out = process.env.KAMAL_CORPUS_ACTUAL;
  if (out) writeFileSync(`${out}.${mode}.json`, `${JSON.stringify(actual, null, 2)}\n`);
  return { actual, recorded, report };
}

describe('the Kamal config corpus (fixtures/kamal-configs)', () => {
  it('has a case and a README entry for every fixture, and an expected result and classification for every case', () => {
    const fixtures = readdirSync(CORPUS).filter((name) => statSync(path.join(CORPUS, name)).isDirectory());
    expect(fixtures.length).toBeGreaterThanOrEqual(40);
    const readme = readFileSync(path.join(CORPUS, 'README.md'), 'utf8');
    for (const fixture of fixtures) {
      expect(
        expected.cases.some((c) => c.fixture === fixture),
        `no case reads ${fixture}`,
      ).toBe(true);
      expect(readme, `README.md does not name ${fixture}`).toContain(`\`${fixture}\``);
    }
    const ids = expected.cases.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of expected.cases) {
      expect(fixtures, c.id).toContain(c.fixture);
      expect(c.kamal.accepted ? c.kamal.images?.app : c.kamal.error, c.id).toMatch(/\S/);
      expect(['accepted', 'refused-honestly', 'wrong'], c.id).toContain(c.classification.safe);
      expect(['accepted', 'refused-honestly', 'wrong'], c.id).toContain(c.classification.ruby);
    }
  });

  for (const mode of ['safe', 'ruby'] as const) {
    it(`${mode} mode: every case classified as recorded (accepted / refused-honestly / wrong against Kamal's own result)`, async () => {
      const { actual, recorded, report } = await table(mode);
      console.info(report.split('\n')[0]);
      expect(actual, report).toEqual(recorded);
      // Issue 16's bar: never a different image, never a config Kamal refuses accepted.
      expect(
        Object.entries(actual).filter(([, cls]) => cls === 'wrong'),
        report,
      ).toEqual([]);
    }, 180_000);
  }
});
