/**
 * Git merges of the file ledger, with the real git binary: two branches that each record tags merge
 * cleanly once `kamal-gate ledger merge-driver install` has run (and conflict without it), and two
 * branches that approved different digests for one tag stop the merge, naming the tag and both digests.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileLedger } from '../../src/ledger/file.js';
import type { NewEntry } from '../../src/ledger/types.js';
import { runCli } from '../helpers/cli.js';

const LEDGER = '.kamal/image-ledger.jsonl';
const CHECKPOINT = `${LEDGER}.checkpoint`;
/** Git identity and no global or system config: the tests see only what they set up. */
const ENV: NodeJS.ProcessEnv = {
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'Test Committer',
  GIT_COMMITTER_EMAIL: 'committer@example.com',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_MERGE_AUTOEDIT: 'no',
};

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const rec = (tag: string, n: number, extra: Partial<NewEntry> = {}): NewEntry => ({ registry: 'ghcr.io', repository: 'acme/app', tag, digest: d(n), event: 'recorded', source: 'record', ...extra });

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function git(dir: string, ...args: string[]): { status: number; out: string; stdout: string } {
  const r = spawnSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, ...ENV } });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

function gitOk(dir: string, ...args: string[]): string {
  const r = git(dir, ...args);
  expect(r.status, `git ${args.join(' ')}: ${r.out}`).toBe(0);
  return r.stdout;
}

const cli = (dir: string, args: string[]) => runCli(args, { cwd: dir, env: ENV });
const append = (dir: string, entries: NewEntry[]) => new FileLedger(join(dir, LEDGER)).append(entries);

/**
 * A repository whose main commits a ledger, then branches `a` and `b` that each append their own
 * entries. HEAD is `a`. With `checkpoint`, a checkpoint file beside the ledger that each branch
 * changes (plain text: only what git does with it is tested here, and the ledger then no longer verifies).
 */
async function repository(aEntries: NewEntry[], bEntries: NewEntry[], checkpoint = false): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kg-ledger-merge-'));
  dirs.push(dir);
  gitOk(dir, 'init', '-q', '-b', 'main');
  await append(dir, [rec('v1', 1), rec('v2', 2)]);
  if (checkpoint) writeFileSync(join(dir, CHECKPOINT), 'checkpoint at seq 2\n');
  gitOk(dir, 'add', '.');
  gitOk(dir, 'commit', '-q', '-m', 'ledger on main');
  for (const [branch, entries] of [
    ['b', bEntries],
    ['a', aEntries],
  ] as const) {
    gitOk(dir, 'checkout', '-q', '-b', branch, 'main');
    await append(dir, entries);
    if (checkpoint) writeFileSync(join(dir, CHECKPOINT), `checkpoint of branch ${branch}\n`);
    gitOk(dir, 'commit', '-q', '-a', '-m', `record on ${branch}`);
  }
  return dir;
}

async function tagsIn(dir: string): Promise<Array<{ ref: string; approved: string | null }>> {
  const show = await cli(dir, ['ledger', 'show', '--ledger', LEDGER, '--format', 'json']);
  expect(show.code, show.stderr).toBe(0);
  return (JSON.parse(show.stdout) as { tags: Array<{ ref: string; approved: string | null }> }).tags.map(({ ref, approved }) => ({ ref, approved }));
}

const unmerged = (dir: string) => gitOk(dir, 'ls-files', '-u', '--', LEDGER);

describe('kamal-gate ledger merge-driver', () => {
  const aEntries = () => [rec('a1', 10), rec('a2', 11)];
  const bEntries = () => [rec('b1', 20), rec('v1', 1, { event: 'observed', source: 'drift' })];

  it('without the driver, two branches that recorded tags conflict in git', async () => {
    const dir = await repository(aEntries(), bEntries());
    const merge = git(dir, 'merge', 'b', '-m', 'merge b');
    expect(merge.status).not.toBe(0);
    expect(merge.out).toContain(`CONFLICT (content): Merge conflict in ${LEDGER}`);
    expect(unmerged(dir)).toContain(LEDGER);
    const verify = await cli(dir, ['ledger', 'verify', '--ledger', LEDGER]);
    expect(verify.code).toBe(2);
  });

  it('with the driver installed, the same merge succeeds; the ledger verifies and holds every tag of both branches', async () => {
    const dir = await repository(aEntries(), bEntries());
    const install = await cli(dir, ['ledger', 'merge-driver', 'install']);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stderr).toBe('');
    expect(install.stdout).toContain(`${LEDGER} merge=kamal-gate-ledger`);
    expect(install.stdout).toContain(`${CHECKPOINT} merge=kamal-gate-checkpoint`);
    expect(readFileSync(join(dir, '.gitattributes'), 'utf8')).toBe(`${LEDGER} merge=kamal-gate-ledger\n${CHECKPOINT} merge=kamal-gate-checkpoint\n`);
    expect(readFileSync(join(dir, '.git', 'info', 'attributes'), 'utf8')).toBe(`${LEDGER} merge=kamal-gate-ledger\n${CHECKPOINT} merge=kamal-gate-checkpoint\n`);
    const driver = gitOk(dir, 'config', '--get', 'merge.kamal-gate-ledger.driver').trim();
    expect(driver).toMatch(/^'.+node[^']*' '.+\/dist\/cli\.js' ledger merge-file %O %A %B %P$/);
    expect(gitOk(dir, 'config', '--get', 'merge.kamal-gate-checkpoint.driver').trim()).toBe('true');
    gitOk(dir, 'add', '.gitattributes');
    gitOk(dir, 'commit', '-q', '-m', 'merge driver');

    const merge = git(dir, 'merge', 'b', '-m', 'merge b');
    expect(merge.status, merge.out).toBe(0);
    expect(merge.out).toContain(`merged ${LEDGER}: 2 shared, 2 ours kept, 2 theirs appended`);
    expect(gitOk(dir, 'status', '--porcelain')).toBe('');
    const verify = await cli(dir, ['ledger', 'verify', '--ledger', LEDGER]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toContain('6 entries, hash chain intact');
    expect(await tagsIn(dir)).toEqual([
      { ref: 'ghcr.io/acme/app:v1', approved: d(1) },
      { ref: 'ghcr.io/acme/app:v2', approved: d(2) },
      { ref: 'ghcr.io/acme/app:a1', approved: d(10) },
      { ref: 'ghcr.io/acme/app:a2', approved: d(11) },
      { ref: 'ghcr.io/acme/app:b1', approved: d(20) },
    ]);
    // ours first and untouched: branch a's file is the start of the merged file
    const ours = gitOk(dir, 'show', `HEAD^1:${LEDGER}`);
    expect(readFileSync(join(dir, LEDGER), 'utf8').startsWith(ours)).toBe(true);

    // b goes on, then merges a back: b gets a's entries, nothing twice. b has no .gitattributes (it
    // was committed on a): the clone's .git/info/attributes that install wrote applies on every branch.
    gitOk(dir, 'checkout', '-q', 'b');
    await append(dir, [rec('b2', 21)]);
    gitOk(dir, 'commit', '-q', '-a', '-m', 'b2');
    const back = git(dir, 'merge', 'a', '-m', 'merge a');
    expect(back.status, back.out).toBe(0);
    expect(back.out).toContain('2 theirs appended, 2 of theirs already ours (dropped)');
    expect((await cli(dir, ['ledger', 'verify', '--ledger', LEDGER])).code).toBe(0);
    expect((await tagsIn(dir)).map((t) => t.ref).sort()).toEqual(['a1', 'a2', 'b1', 'b2', 'v1', 'v2'].map((t) => `ghcr.io/acme/app:${t}`));
  });

  it('keeps our checkpoint when both branches changed it', async () => {
    const dir = await repository(aEntries(), bEntries(), true);
    const without = git(dir, 'merge', 'b', '-m', 'merge b');
    expect(without.out).toContain(`CONFLICT (content): Merge conflict in ${CHECKPOINT}`);
    gitOk(dir, 'merge', '--abort');
    expect((await cli(dir, ['ledger', 'merge-driver', 'install'])).code).toBe(0);
    const merge = git(dir, 'merge', 'b', '-m', 'merge b');
    expect(merge.status, merge.out).toBe(0);
    expect(readFileSync(join(dir, CHECKPOINT), 'utf8')).toBe('checkpoint of branch a\n');
    expect(merge.out).toContain(`note: their 2 entries now follow ours, so only our side's ${CHECKPOINT} matches the merged ledger`);
  });

  it('install is idempotent and uninstall removes what it added', async () => {
    const dir = await repository([rec('a1', 10)], [rec('b1', 20)]);
    writeFileSync(join(dir, '.gitattributes'), '*.png binary'); // no final newline
    for (let i = 0; i < 2; i++) expect((await cli(dir, ['ledger', 'merge-driver', 'install'])).code).toBe(0);
    expect(readFileSync(join(dir, '.gitattributes'), 'utf8')).toBe(`*.png binary\n${LEDGER} merge=kamal-gate-ledger\n${CHECKPOINT} merge=kamal-gate-checkpoint\n`);
    expect((await cli(dir, ['ledger', 'merge-driver', 'install'])).stdout).toContain('.gitattributes: already has the kamal-gate lines');
    const un = await cli(dir, ['ledger', 'merge-driver', 'uninstall']);
    expect(un.code, un.stderr).toBe(0);
    expect(readFileSync(join(dir, '.gitattributes'), 'utf8')).toBe('*.png binary\n');
    expect(existsSync(join(dir, '.git', 'info', 'attributes'))).toBe(false);
    expect(git(dir, 'config', '--get', 'merge.kamal-gate-ledger.driver').status).toBe(1);
    expect(gitOk(dir, 'check-attr', 'merge', '--', LEDGER)).toContain('merge: unspecified');
  });

  it('--ledger names the ledger from the current folder, written so git matches exactly that path', async () => {
    const dir = await repository([rec('a1', 10)], [rec('b1', 20)]);
    const odd = 'deploy dir/ledger [prod]*.jsonl';
    const install = await cli(join(dir, '.kamal'), ['ledger', 'merge-driver', 'install', '--ledger', `../${odd}`]);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stderr).toBe('');
    expect(gitOk(dir, 'check-attr', 'merge', '--', odd)).toContain('merge: kamal-gate-ledger');
    expect(gitOk(dir, 'check-attr', 'merge', '--', `${odd}.checkpoint`)).toContain('merge: kamal-gate-checkpoint');
    // the glob characters are literal: a similar name is not matched
    expect(gitOk(dir, 'check-attr', 'merge', '--', 'deploy dir/ledger p.jsonl')).toContain('merge: unspecified');
  });

  it('refuses outside a git work tree, and a PostgreSQL ledger, with exit 2 and no stack trace', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'kg-no-git-'));
    dirs.push(outside);
    const r = await cli(outside, ['ledger', 'merge-driver', 'install']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not in a git work tree');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const dir = await repository([rec('a1', 10)], [rec('b1', 20)]);
    const pg = await cli(dir, ['ledger', 'merge-driver', 'install', '--ledger', 'postgres://ci@db/ledger']);
    expect(pg.code).toBe(2);
    expect(pg.stderr).toContain('only the file ledger is merged by git');
  });
});

describe('a real conflict: both branches approved different digests for one tag', () => {
  it('stops the merge, names the tag and both digests, leaves the file conflicted with our version', async () => {
    const dir = await repository([rec('a1', 10), rec('app', 30, { event: 'approved', actor: 'alice' })], [rec('app', 31, { event: 'approved', actor: 'bob' }), rec('b1', 20)]);
    expect((await cli(dir, ['ledger', 'merge-driver', 'install'])).code).toBe(0);
    const ours = readFileSync(join(dir, LEDGER), 'utf8');
    const merge = git(dir, 'merge', 'b', '-m', 'merge b');
    expect(merge.status).not.toBe(0);
    expect(merge.out).toContain(`cannot merge ${LEDGER}: both branches approved different digests for a tag:`);
    expect(merge.out).toContain(`ghcr.io/acme/app:app: ours approved ${d(30)}, theirs approved ${d(31)}`);
    expect(merge.out).toContain(`kamal-gate record --approve-move ghcr.io/acme/app:app@${d(30)}`);
    expect(merge.out).toContain(`kamal-gate record --approve-move ghcr.io/acme/app:app@${d(31)}`);
    expect(merge.out).not.toMatch(/\n\s+at /);
    expect(unmerged(dir)).toContain(LEDGER);
    expect(readFileSync(join(dir, LEDGER), 'utf8')).toBe(ours);

    // the resolution the message gives: keep every entry of both branches, then approve one digest
    for (const [stage, file] of [
      [1, `${LEDGER}.base`],
      [3, `${LEDGER}.theirs`],
      [2, LEDGER],
    ] as const)
      writeFileSync(join(dir, file), gitOk(dir, 'show', `:${stage}:${LEDGER}`));
    const keep = await cli(dir, ['ledger', 'merge-file', '--keep-conflicts', `${LEDGER}.base`, LEDGER, `${LEDGER}.theirs`, LEDGER]);
    expect(keep.code, keep.stderr).toBe(0);
    expect(keep.stderr).toContain('merged with conflicts kept');
    expect((await cli(dir, ['ledger', 'verify', '--ledger', LEDGER])).code).toBe(0);
    const tags = await tagsIn(dir);
    expect(tags.map((t) => t.ref)).toEqual(['v1', 'v2', 'a1', 'app', 'b1'].map((t) => `ghcr.io/acme/app:${t}`));
  });
});

describe('kamal-gate ledger merge-file on bad input', () => {
  it('exits 2 naming the file that cannot be read or the side and line that does not verify, OURS untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-merge-file-'));
    dirs.push(dir);
    await new FileLedger(join(dir, 'ours.jsonl')).append([rec('v1', 1)]);
    await new FileLedger(join(dir, 'base.jsonl')).append([rec('v1', 1)]);
    writeFileSync(join(dir, 'theirs.jsonl'), `${readFileSync(join(dir, 'ours.jsonl'), 'utf8')}not a ledger line\n`);
    const ours = readFileSync(join(dir, 'ours.jsonl'), 'utf8');

    const missing = await cli(dir, ['ledger', 'merge-file', 'base.jsonl', 'ours.jsonl', 'nope.jsonl', LEDGER]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read their version (THEIRS) of the ledger, nope.jsonl');

    const broken = await cli(dir, ['ledger', 'merge-file', 'base.jsonl', 'ours.jsonl', 'theirs.jsonl', LEDGER]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`cannot merge ${LEDGER}: their side (THEIRS, the branch being merged) does not verify: theirs.jsonl:2: not valid JSON`);
    for (const r of [missing, broken]) expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(join(dir, 'ours.jsonl'), 'utf8')).toBe(ours);
  });
});
