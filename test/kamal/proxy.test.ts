import { describe, expect, it } from 'vitest';
import { readDeployPlan } from '../../src/kamal/index.js';
import { configError, fixture, project } from './helpers.js';

/**
 * What Kamal 2 requires beyond the proxy settings under test: a registry (Kamal's local one, which needs
 * no credentials) and `builder.arch`; appended at the end of each config so no asserted line moves.
 */
const REST = ['registry:', '  server: localhost:5555', 'builder:', '  arch: amd64'];
const rest = `${REST.join('\n')}\n`;

const proxies = async (cwd: string, configFile?: string, env: Record<string, string> = {}) => {
  const plan = await readDeployPlan({ cwd, configFile, version: 'v1', env });
  return { plan, proxy: plan.targets.filter((t) => t.role === 'proxy') };
};

describe('proxy targets from proxy.run', () => {
  it('forms [registry/]repository:version per host: the root run for web hosts, an accessory run for its host', async () => {
    const { plan, proxy } = await proxies(fixture('proxy-run'), undefined, { KAMAL_REGISTRY_PASSWORD: 'proxy-reg-pw' });
    expect(proxy.map((t) => [t.name, t.ref, t.source?.file, t.source?.line])).toEqual([
      ['kamal-proxy', 'registry:4443/basecamp/kamal-proxy:v0.9.3', 'config/deploy.yml', 20],
      ['kamal-proxy', 'basecamp/kamal-proxy:v0.9.2', 'config/deploy.yml', 31],
    ]);
    // The root credential goes to the proxy pulled from the same registry, not to the other one.
    expect(proxy[0]!.credential).toMatchObject({ server: 'registry:4443', username: 'user', origin: 'environment KAMAL_REGISTRY_PASSWORD' });
    expect(proxy[1]!.credential).toBeUndefined();
    expect(plan.notes.filter((n) => n.includes('kamal-proxy'))).toEqual([]);
  });

  it('merges a role proxy.run over the root one; roles that do not run the proxy add nothing', async () => {
    const { plan, proxy } = await proxies(fixture('proxy-run'), 'config/role.yml');
    expect(proxy.map((t) => [t.ref, t.source?.line])).toEqual([
      ['acme/kamal-proxy:v0.9.3', 22],
      ['acme/kamal-proxy:v0.9.4', 13],
    ]);
    expect(plan.notes).toEqual([]);
  });

  it('refuses runs that differ on one host, as Kamal does, naming both', async () => {
    const e = await configError(readDeployPlan({ cwd: fixture('proxy-run'), configFile: 'config/conflict.yml', version: 'v1', env: {} }));
    expect([e.file, e.line]).toEqual(['config/conflict.yml', 25]);
    expect(e.message).toContain('conflicting proxy run configurations for host 1.1.1.2: proxy.run (config/conflict.yml:16) and accessories.mysql.proxy.run differ');
  });

  it('accepts identical runs on a host, and uses defaults for missing fields', async () => {
    const dir = project({
      'config/deploy.yml': [
        'service: a',
        'image: acme/a',
        'servers: ["1.1.1.1"]',
        'proxy:',
        '  run: {debug: true}',
        'accessories:',
        '  lb:',
        '    image: acme/lb:1',
        '    host: 1.1.1.1',
        '    proxy:',
        '      run: {debug: true}',
        ...REST,
        '',
      ].join('\n'),
    });
    const { proxy } = await proxies(dir);
    expect(proxy.map((t) => [t.ref, t.source?.line])).toEqual([['basecamp/kamal-proxy:v0.9.2', 5]]);
  });

  it('notes hosts without proxy.run when other hosts have one', async () => {
    const dir = project({
      'config/deploy.yml': 'service: a\nimage: acme/a\nservers: ["1.1.1.1"]\naccessories:\n  lb:\n    image: acme/lb:1\n    host: 9.9.9.9\n    proxy:\n      run:\n        version: v0.9.5\n' + rest,
    });
    const { plan, proxy } = await proxies(dir);
    expect(proxy.map((t) => t.ref)).toEqual(['basecamp/kamal-proxy:v0.9.5']);
    expect(plan.notes).toEqual([
      'no proxy.run for 1.1.1.1: the kamal-proxy image is decided on each host (.kamal/proxy/image, default basecamp/kamal-proxy:v0.9.2 for Kamal 2.12); set proxy.run (registry, repository, version) to name it in the config',
    ]);
  });

  const placed = (placement: string) =>
    project({
      'config/deploy.yml': [
        'service: a',
        'image: acme/a',
        'servers:',
        '  web:',
        '    - 1.1.1.1: edge',
        '    - 1.1.1.2',
        '  jobs:',
        '    - 1.1.1.3',
        'proxy:',
        '  run: {version: v1.0.0}',
        'accessories:',
        '  lb:',
        '    image: acme/lb:1',
        `    ${placement}`,
        '    proxy:',
        '      run: {version: v2.0.0}',
        ...REST,
        '',
      ].join('\n'),
    });

  it('finds an accessory on a proxy host through role, roles, tag or tags', async () => {
    for (const [placement, host] of [
      ['role: web', '1.1.1.1'],
      ['roles: [web]', '1.1.1.1'],
      ['tag: edge', '1.1.1.1'],
      ['tags: [edge]', '1.1.1.1'],
      ['hosts: [1.1.1.2]', '1.1.1.2'],
    ]) {
      const e = await configError(readDeployPlan({ cwd: placed(placement!), version: 'v1', env: {} }));
      expect(e.message).toContain(`conflicting proxy run configurations for host ${host}:`);
      expect(e.line).toBe(16);
    }
  });

  it('lets an accessory on a host without the app proxy run its own proxy image', async () => {
    const { proxy } = await proxies(placed('host: 1.1.1.3'));
    expect(proxy.map((t) => t.ref)).toEqual(['basecamp/kamal-proxy:v1.0.0', 'basecamp/kamal-proxy:v2.0.0']);
  });

  it('honours proxy: false on the primary role and primary_role', async () => {
    const off = project({ 'config/deploy.yml': 'service: a\nimage: acme/a\nservers:\n  web:\n    hosts: ["1.1.1.1"]\n    proxy: false\nproxy:\n  run: {version: v1.0.0}\n' + rest });
    const offPlan = await proxies(off);
    expect(offPlan.proxy).toEqual([]);
    expect(offPlan.plan.notes).toEqual([]);

    const primary = project({
      'config/deploy.yml': 'service: a\nimage: acme/a\nprimary_role: api\nservers:\n  web: ["1.1.1.1"]\n  api: ["1.1.1.2"]\nproxy:\n  run: {version: v1.0.0}\n' + rest,
    });
    expect((await proxies(primary)).proxy.map((t) => t.ref)).toEqual(['basecamp/kamal-proxy:v1.0.0']);
  });
});
