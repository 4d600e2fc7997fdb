/**
 * `drift --hosts` pieces without hosts: the remote script is fixed words with the service and
 * destination quoted (a hostile destination is refused, nothing built), the host's answer is read
 * strictly, and each container is judged by its image's RepoDigests against the approved digest.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { judgeRunning, parseRunning, runningScript } from '../../src/hosts/running.js';
import type { TagRef } from '../../src/ledger/types.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const ID = `sha256:${'c'.repeat(64)}`;

function answer(containers: object[], images: object[]): string {
  return ['--- kamal-gate containers', ...containers.map((c) => JSON.stringify(c)), '--- kamal-gate images', ...images.map((i) => JSON.stringify(i)), ''].join('\n');
}

const container = (name: string, image: string) => ({
  Id: `id-${name}`,
  Name: `/${name}`,
  Image: ID,
  Config: { Image: image, Labels: { service: 'shop', role: 'web' } },
  State: { Status: 'running' },
});

describe('runningScript', () => {
  it('filters on the service and destination labels, each quoted as one word', () => {
    const s = runningScript('shop', "prod'uction");
    expect(s).toContain("--filter 'label=service=shop' --filter 'label=destination=prod'\\''uction'");
    expect(runningScript('shop')).not.toContain('destination');
  });

  it('refuses a destination it cannot pass safely', () => {
    expect(() => runningScript('shop', 'prod\n; touch /tmp/pwned')).toThrow(ConfigError);
  });
});

describe('parseRunning and judgeRunning', () => {
  const approved = async (t: TagRef) => (t.tag === 'v1' ? A : undefined);

  it('approves a container whose image was pulled at the approved digest, and names what else runs', async () => {
    const out = answer(
      [container('shop-web-1', 'ghcr.io/acme/shop:v1'), container('shop-web-2', 'ghcr.io/acme/shop:v2'), container('shop-web-3', ID)],
      [{ Id: ID, RepoDigests: [`ghcr.io/acme/shop@${A}`, `other.example/x@${B}`] }],
    );
    const judged = await judgeRunning('web-1', parseRunning('web-1', out), approved);
    expect(judged.map((c) => [c.name, c.ok, c.role])).toEqual([
      ['shop-web-1', true, 'web'],
      ['shop-web-2', false, 'web'],
      ['shop-web-3', false, 'web'],
    ]);
    expect(judged[1]!.reason).toBe('the ledger approves no digest for ghcr.io/acme/shop:v2');
    expect(judged[2]!.reason).toContain('names no tag the ledger could approve');
  });

  it('flags an image pulled at another digest, or never pulled from that repository', async () => {
    const other = answer([container('a', 'ghcr.io/acme/shop:v1')], [{ Id: ID, RepoDigests: [`ghcr.io/acme/shop@${B}`] }]);
    const [moved] = await judgeRunning('h', parseRunning('h', other), approved);
    expect(moved).toMatchObject({ ok: false, pulled: B, approved: A });
    const local = answer([container('a', 'ghcr.io/acme/shop:v1')], [{ Id: ID, RepoDigests: [`ghcr.io/evil/shop@${A}`] }]);
    const [built] = await judgeRunning('h', parseRunning('h', local), approved);
    expect(built!.ok).toBe(false);
    expect(built!.reason).toContain('was not pulled from ghcr.io/acme/shop');
  });

  it('an answer without the listing is an error naming the host', () => {
    expect(() => parseRunning('web-9', 'bash: docker: command not found')).toThrow(/host web-9: the container listing did not come back/);
    expect(() => parseRunning('web-9', '--- kamal-gate containers\nnot json')).toThrow(/host web-9: docker inspect printed something that is not JSON/);
  });

  it('no containers: nothing to judge', () => {
    expect(parseRunning('h', '--- kamal-gate containers\n')).toEqual([]);
  });
});
