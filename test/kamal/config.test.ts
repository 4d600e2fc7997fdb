import { describe, expect, it } from 'vitest';
import { loadConfig, overlayPath, toPlain } from '../../src/kamal/index.js';
import { configError, fixture, project } from './helpers.js';

describe('loadConfig: files and destinations', () => {
  it('reads config/deploy.yml relative to cwd by default', async () => {
    const c = await loadConfig({ cwd: fixture('rails8'), env: {} });
    expect(c.configFile).toBe('config/deploy.yml');
    expect(c.files).toEqual(['config/deploy.yml']);
    expect(toPlain(c.root.entries.get('service')!.value)).toBe('storefront');
  });

  it('forms the overlay name as Kamal sub_ext does', () => {
    expect(overlayPath('/p/config/foo.yml', 'staging')).toBe('/p/config/foo.staging.yml');
    expect(overlayPath('/p/config/deploy.yaml', 'eu')).toBe('/p/config/deploy.eu.yml');
    expect(overlayPath('/p/config/deploy', 'eu')).toBe('/p/config/deploy.eu.yml');
  });

  it('reads -c PATH and its overlay -c config/foo.yml -d staging → config/foo.staging.yml', async () => {
    const dir = project({ 'config/foo.yml': 'service: a\nimage: x/a\n', 'config/foo.staging.yml': 'image: x/b\n' });
    const c = await loadConfig({ cwd: dir, configFile: 'config/foo.yml', destination: 'staging', env: {} });
    expect(c.files).toEqual(['config/foo.yml', 'config/foo.staging.yml']);
    expect(toPlain(c.root)).toEqual({ service: 'a', image: 'x/b' });
  });

  it('names the overlay file it looked for when it is missing', async () => {
    const e = await configError(loadConfig({ cwd: fixture('rails8'), destination: 'mars', env: {} }));
    expect(e.file).toBe('config/deploy.mars.yml');
    expect(e.message).toContain('destination "mars" needs the overlay file config/deploy.mars.yml, which does not exist');
  });

  it('names the config file when it is missing', async () => {
    const e = await configError(loadConfig({ cwd: fixture('rails8'), configFile: 'config/nope.yml', env: {} }));
    expect(e.file).toBe('config/nope.yml');
  });

  it('deep-merges mappings; lists and scalars in the overlay replace', async () => {
    const c = await loadConfig({ cwd: fixture('destinations'), destination: 'staging', env: {} });
    // biome-ignore lint/suspicious/noExplicitAny: a plain config tree, walked freely by the assertions
    const plain = toPlain(c.root) as Record<string, any>;
    expect(plain.servers).toEqual({ web: ['10.1.0.10'], jobs: { hosts: ['10.1.0.11'], cmd: 'bin/jobs' } });
    expect(plain.builder).toEqual({ arch: 'arm64' });
    expect(plain.accessories.db).toEqual({ image: 'postgres:17.2', host: '10.1.0.12', port: '127.0.0.1:5432:5432' });
    expect(plain.accessories.search.image).toBe('acme/meilisearch:1.11');
  });

  it('keeps the location of each value in the file that supplied it', async () => {
    const c = await loadConfig({ cwd: fixture('destinations'), destination: 'staging', env: {} });
    const acc = c.root.entries.get('accessories')!.value;
    if (acc.kind !== 'map') throw new Error('accessories');
    const db = acc.entries.get('db')!.value;
    const search = acc.entries.get('search')!.value;
    if (db.kind !== 'map' || search.kind !== 'map') throw new Error('accessory');
    expect(db.entries.get('image')!.value.loc).toEqual({ file: 'config/deploy.staging.yml', line: 13, column: 12 });
    expect(db.entries.get('port')!.value.loc).toMatchObject({ file: 'config/deploy.yml', line: 31 });
    expect(search.entries.get('image')!.value.loc).toEqual({ file: 'config/deploy.yml', line: 33, column: 12 });
  });

  it('lets an overlay null replace a base value', async () => {
    const dir = project({ 'config/deploy.yml': 'service: a\nproxy:\n  ssl: true\n', 'config/deploy.x.yml': 'proxy:\n' });
    const c = await loadConfig({ cwd: dir, destination: 'x', env: {} });
    expect(toPlain(c.root)).toEqual({ service: 'a', proxy: null });
  });

  it('shows KAMAL_DESTINATION to the ERB only as the destination', async () => {
    const files = {
      'config/deploy.yml': 'service: a\nimage: x/<%= ENV["KAMAL_DESTINATION"] %>\n',
      'config/deploy.eu.yml': 'servers: []\n',
    };
    const dir = project(files);
    const withDest = await loadConfig({ cwd: dir, destination: 'eu', env: { KAMAL_DESTINATION: 'stale' } });
    expect(toPlain(withDest.root.entries.get('image')!.value)).toBe('x/eu');
    const without = await loadConfig({ cwd: dir, env: { KAMAL_DESTINATION: 'stale' } });
    expect(toPlain(without.root.entries.get('image')!.value)).toBe('x/');
    expect(without.notes).toEqual(['config/deploy.yml:2: ENV["KAMAL_DESTINATION"] is not set, so it renders as an empty value (as in Kamal)']);
  });
});

describe('loadConfig: YAML as Psych loads it', () => {
  it('resolves anchors, aliases and << merge keys, and drops top-level x- keys', async () => {
    const c = await loadConfig({ cwd: fixture('anchors'), env: {} });
    // biome-ignore lint/suspicious/noExplicitAny: a plain config tree, walked freely by the assertions
    const plain = toPlain(c.root) as Record<string, any>;
    expect(Object.keys(plain).filter((k) => k.startsWith('x-'))).toEqual([]);
    expect(plain.image).toBe('tools/anchored');
    expect(plain.servers.web_tokyo).toEqual({ proxy: { ssl: false }, hosts: ['1.1.1.3'] });
    expect(plain.registry).toEqual({ server: 'registry.internal.example:5000', username: 'deployer', password: ['INTERNAL_REGISTRY_PASSWORD'] });
    expect(plain.accessories.metrics.registry.username).toBe('metrics-reader');
    // An aliased value keeps the location where it is written.
    expect(c.root.entries.get('image')!.value.loc).toEqual({ file: 'config/deploy.yml', line: 12, column: 21 });
  });

  it('follows Psych on merge order: << overrides keys before it, later keys override it, the first of a list wins', async () => {
    const dir = project({
      'config/deploy.yml': 'a: &a {k: a, only_a: 1}\nb: &b {k: b}\nm1: {k: own, <<: *a}\nm2: {<<: *a, k: own}\nm3: {<<: [*a, *b]}\n',
    });
    // biome-ignore lint/suspicious/noExplicitAny: a plain config tree, walked freely by the assertions
    const plain = toPlain((await loadConfig({ cwd: dir, env: {} })).root) as Record<string, any>;
    expect(plain.m1).toEqual({ k: 'a', only_a: 1 });
    expect(plain.m2).toEqual({ k: 'own', only_a: 1 });
    expect(plain.m3).toEqual({ k: 'a', only_a: 1 });
  });

  it('lets a duplicate key win as Psych does, and reads YAML 1.1 booleans', async () => {
    const dir = project({ 'config/deploy.yml': 'service: a\nservice: b\nrequire_destination: no\n' });
    expect(toPlain((await loadConfig({ cwd: dir, env: {} })).root)).toEqual({ service: 'b', require_destination: false });
  });

  it('reports malformed YAML at its source line', async () => {
    const e = await configError(loadConfig({ cwd: fixture('invalid'), configFile: 'config/malformed.yml', env: {} }));
    expect(e.file).toBe('config/malformed.yml');
    expect(e.line).toBe(9);
    expect(e.message).toMatch(/^config\/malformed\.yml:9: invalid YAML: /);
  });

  it('reports malformed YAML at the source line even after ERB trimming removed lines', async () => {
    // Rendered, the bad mapping is on line 1; in the source it is on line 5.
    const dir = project({ 'config/deploy.yml': '<%#\n  note\n-%>\n<%# x -%>\nservice: a\n  bad: indent\n' });
    const e = await configError(loadConfig({ cwd: dir, env: {} }));
    expect(e.file).toBe('config/deploy.yml');
    expect(e.line).toBe(5);
    expect(e.message).toContain('invalid YAML');
  });

  it('refuses a top level that is not a mapping, and an empty file', async () => {
    const e = await configError(loadConfig({ cwd: fixture('invalid'), configFile: 'config/not-a-mapping.yml', env: {} }));
    expect(e.file).toBe('config/not-a-mapping.yml');
    expect(e.line).toBe(1);
    expect(e.message).toContain('the top level must be a mapping');
    const empty = await configError(loadConfig({ cwd: project({ 'config/deploy.yml': '# nothing\n' }), env: {} }));
    expect(empty.message).toContain('the top level must be a mapping');
  });

  it('refuses recursive aliases instead of looping', async () => {
    const e = await configError(loadConfig({ cwd: project({ 'config/deploy.yml': 'a: &a\n  - *a\n' }), env: {} }));
    expect(e.message).toContain('recursive YAML alias');
  });
});

describe('loadConfig: require_destination', () => {
  it('requires -d when require_destination is true, naming the line', async () => {
    const e = await configError(loadConfig({ cwd: fixture('require-destination'), env: {} }));
    expect(e.file).toBe('config/deploy.yml');
    expect(e.line).toBe(3);
    expect(e.message).toContain('pass a destination with -d NAME');
  });

  it('reads the config with the destination', async () => {
    const c = await loadConfig({ cwd: fixture('require-destination'), destination: 'production', env: {} });
    expect(c.files).toEqual(['config/deploy.yml', 'config/deploy.production.yml']);
  });
});
