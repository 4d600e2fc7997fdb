/**
 * The hosts check (`verify --hosts`): every host that must hold the image (hosts/targets.ts) holds,
 * under the reference Kamal boots, the gated image: its RepoDigests names the gated digest and its
 * Id is the gated config digest (classic store) or manifest digest (containerd store). Otherwise
 * `host.image_mismatch` (critical) naming the host and both digests; an image the host does not
 * have: `host.image_missing`. A host that cannot be reached or whose docker refuses makes the image
 * an error (could not verify, exit 3) naming the hosts. Runs only when `--hosts` is on.
 *
 * `kamal rollback` (KAMAL_COMMAND=rollback): Kamal boots the version rolled back to from the image
 * the hosts already hold, without pulling; the hosts must hold the digest the ledger approved for
 * that tag (resolved by digest for its config digest), whatever the tag points to now.
 */
import { HostError } from '../hosts/ssh.js';
import { compareHeld, expectedOf, type ExpectedImage } from '../hosts/inspect.js';
import { readTag } from '../ledger/observe.js';
import { platformDigestMap } from '../registry/manifest.js';
import { parseReference, repositoryName } from '../registry/reference.js';
import type { HostImageReport } from '../hosts/verify-hosts.js';
import type { Finding, ResolvedImage } from '../types.js';
import type { CheckContext, ImageCheck } from './types.js';

/** The image the hosts must hold: the gated one, or on a rollback the ledger's approved digest of its tag. */
async function expectedImage(image: ResolvedImage, ctx: CheckContext): Promise<ExpectedImage> {
  if (!ctx.hosts?.rollback || !ctx.ledger || !image.tag) return expectedOf(image);
  const approved = (await readTag(ctx.ledger, { registry: image.registry, repository: image.repository, tag: image.tag })).state.approved;
  if (!approved || approved === image.digest) return expectedOf(image);
  const r = await ctx.client.resolve(
    parseReference(`${repositoryName(image)}@${approved}`),
    image.resolution.platformDigests.map((p) => p.platform),
  );
  return expectedOf({
    registry: image.registry,
    repository: image.repository,
    digest: r.digest,
    platformDigests: platformDigestMap(r.platformDigests),
    ...(r.index ? { platformDigest: r.manifestDigest } : {}),
    ...(r.config ? { config: { digest: r.config.digest, labels: {} } } : {}),
  });
}

export const hostsCheck: ImageCheck = {
  name: 'hosts',
  on: 'image',
  async run(image, ctx) {
    if (!ctx.hosts) return { findings: [] };
    const findings: Finding[] = [];
    const reports: HostImageReport[] = [];
    const failed: string[] = [];
    const want = await expectedImage(image, ctx);
    const expected = want.digest;
    for (const a of await ctx.hosts.answersFor(image.target)) {
      const host = a.host;
      if ('error' in a || a.held.state === 'error') {
        const error = 'error' in a ? a.error : a.held.state === 'error' ? a.held.message : '';
        reports.push({ host, status: 'error', error });
        failed.push(error);
        continue;
      }
      const held = a.held;
      if (held.state === 'missing') {
        reports.push({ host, status: 'missing' });
        findings.push({
          rule: 'host.image_missing',
          severity: 'critical',
          target: image.target,
          digest: expected,
          message: `host ${host} has no image ${image.target.ref}: Kamal would pull it again when it boots, unchecked`,
          remedy: `pull it on the host before deploying (kamal build pull), then run the gate again`,
          evidence: { host, ref: image.target.ref, expected },
        });
        continue;
      }
      const v = compareHeld(held, want);
      reports.push({ host, status: v.ok ? 'pass' : 'mismatch', id: held.id, repoDigests: v.repoDigests });
      if (v.ok) continue;
      const named = v.repoDigests.length ? v.repoDigests.join(', ') : 'no digest of this repository';
      findings.push({
        rule: 'host.image_mismatch',
        severity: 'critical',
        target: image.target,
        digest: expected,
        message:
          `host ${host} holds another image under ${image.target.ref}: the gate ${ctx.hosts.rollback ? 'expects the approved' : 'verified'} ${expected}` +
          `, the host has Id ${held.id} and RepoDigests ${named}`,
        remedy: `find out why ${host} holds another image (a re-pointed local tag, or a registry, mirror or proxy answering it differently); remove it there (docker image rm ${image.target.ref}), pull again and re-run the gate`,
        evidence: { host, ref: image.target.ref, expected, ids: [...want.ids], id: held.id, repoDigests: v.repoDigests },
      });
    }
    ctx.hosts.record(image.target, reports);
    if (failed.length) {
      const hosts = reports.filter((r) => r.status === 'error').map((r) => r.host);
      throw new HostError(hosts.join(', '), `${image.target.ref} could not be checked on ${hosts.length === 1 ? 'host' : 'hosts'} ${hosts.join(', ')}: ${failed.join('; ')}`);
    }
    return { findings };
  },
};
