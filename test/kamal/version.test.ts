import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDeployPlan, resolveVersion } from '../../src/kamal/index.js';
import { configError, project } from './helpers.js';

/** A config Kamal 2 accepts: hosts, a registry (Docker Hub, password as a secret) and `builder` (last) with its arch. */
const CONFIG = 'service: a\nimage: acme/a\nservers: [1.1.1.1]\nregistry:\n  username: u\n  password: [KAMAL_REGISTRY_PASSWORD]\nbuilder:\n  arch: amd64\n';

function gitRepo(files: Record<string, string>): { dir: string; head: string } {
  const dir = project(files);
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'commit.gpgsign=false', ...args], {
      cwd: dir,
      encoding: 'utf8',
    }).trim();
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'init');
  return { dir, head: git('rev-parse', 'HEAD') };
}

describe('version', () => {
  it('takes --version, then KAMAL_VERSION, then VERSION', async () => {
    const base = { gitDir: '/nonexistent', configFile: 'config/deploy.yml' };
    const all = { KAMAL_VERSION: 'from-hook', VERSION: 'from-env' };
    expect(await resolveVersion({ ...base, version: 'cli', env: all })).toEqual({ version: 'cli', source: '--version' });
    expect(await resolveVersion({ ...base, env: all })).toEqual({ version: 'from-hook', source: 'KAMAL_VERSION' });
    expect(await resolveVersion({ ...base, env: { VERSION: 'from-env' } })).toEqual({ version: 'from-env', source: 'VERSION' });
    expect(await resolveVersion({ ...base, version: '', env: { VERSION: 'from-env' } })).toEqual({ version: 'from-env', source: 'VERSION' });
  });

  it('falls back to the full git HEAD of the config directory', async () => {
    const { dir, head } = gitRepo({ 'config/deploy.yml': CONFIG });
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    const plan = await readDeployPlan({ cwd: dir, env: {} });
    expect(plan).toMatchObject({ version: head, versionSource: 'git HEAD' });
    expect(plan.targets[0]!.ref).toBe(`acme/a:${head}`);
  });

  it('notes the _uncommitted_ suffix Kamal adds for a dirty tree with builder.context', async () => {
    const { dir, head } = gitRepo({ 'config/deploy.yml': `${CONFIG}  context: .\n` });
    const clean = await readDeployPlan({ cwd: dir, env: {} });
    expect(clean.notes.some((n) => n.includes('_uncommitted_'))).toBe(false);
    execFileSync('touch', [path.join(dir, 'dirty.txt')]);
    const dirty = await readDeployPlan({ cwd: dir, env: {} });
    expect(dirty.notes).toContain(
      `the git working tree has uncommitted changes and builder.context is set, so Kamal tags the image ${head}_uncommitted_<random>; pass the version Kamal used with --version (a Kamal hook has it in KAMAL_VERSION)`,
    );
  });

  it('tells the user to pass --version or set VERSION when there is no git', async () => {
    const dir = project({ 'config/deploy.yml': CONFIG });
    const e = await configError(readDeployPlan({ cwd: dir, env: {} }));
    expect(e.file).toBe('config/deploy.yml');
    expect(e.message).toContain('pass --version or set VERSION');
  });
});
