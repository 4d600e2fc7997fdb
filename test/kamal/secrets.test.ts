import { describe, expect, it } from 'vitest';
import { readSecrets } from '../../src/kamal/index.js';
import { configError, fixture, project } from './helpers.js';

describe('readSecrets: which files, in which order', () => {
  it('reads .kamal/secrets-common then .kamal/secrets without a destination; later files win', async () => {
    const s = await readSecrets({ cwd: fixture('destinations'), env: {} });
    expect(s.searched).toEqual(['.kamal/secrets-common', '.kamal/secrets']);
    expect(s.found).toEqual(['.kamal/secrets-common', '.kamal/secrets']);
    expect(s.entries.get('KAMAL_REGISTRY_PASSWORD')).toMatchObject({ value: 'ghp_production_token_1234', file: '.kamal/secrets', line: 1 });
    expect(s.entries.get('HARBOR_PASSWORD')).toMatchObject({ value: 'harbor-common-s3cret', file: '.kamal/secrets-common', line: 2 });
  });

  it('reads .kamal/secrets.<dest> instead of .kamal/secrets with a destination', async () => {
    const s = await readSecrets({ cwd: fixture('destinations'), destination: 'staging', env: {} });
    expect(s.searched).toEqual(['.kamal/secrets-common', '.kamal/secrets.staging']);
    expect(s.entries.get('KAMAL_REGISTRY_PASSWORD')).toMatchObject({ value: 'ghp_staging_token_5678', file: '.kamal/secrets.staging' });
  });

  it('is fine with missing files', async () => {
    const s = await readSecrets({ cwd: fixture('destinations'), destination: 'nowhere', env: {} });
    expect(s.found).toEqual(['.kamal/secrets-common']);
    expect(s.entries.get('KAMAL_REGISTRY_PASSWORD')?.file).toBe('.kamal/secrets-common');
    const none = await readSecrets({ cwd: fixture('local-registry'), env: {} });
    expect(none.found).toEqual([]);
    expect(none.entries.size).toBe(0);
  });

  it('honours a custom secrets_path, relative to cwd', async () => {
    const dir = project({ 'ops/creds-common': 'A=1\n', 'ops/creds': 'B=2\n' });
    const s = await readSecrets({ cwd: dir, secretsPath: 'ops/creds', env: {} });
    expect(s.found).toEqual(['ops/creds-common', 'ops/creds']);
    expect([...s.entries.keys()]).toEqual(['A', 'B']);
  });

  it('expands $VAR within one file and from the environment, not from an earlier file (as dotenv parses each file alone)', async () => {
    const dir = project({ '.kamal/secrets-common': 'BASE=common\n', '.kamal/secrets': 'A=$BASE\nB=$FROM_ENV\n' });
    const s = await readSecrets({ cwd: dir, env: { FROM_ENV: 'env' } });
    expect(s.entries.get('A')).toMatchObject({ value: '', missing: ['BASE'] });
    expect(s.entries.get('B')?.value).toBe('env');
  });

  it('reports a malformed line with the file it is in', async () => {
    const dir = project({ '.kamal/secrets.production': 'OK=1\noops\u0000here\n' });
    const e = await configError(readSecrets({ cwd: dir, destination: 'production', env: {} }));
    expect(e.file).toBe('.kamal/secrets.production');
    expect(e.line).toBe(2);
  });
});
