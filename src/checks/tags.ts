/**
 * The tags check: `tags.forbid` (tag.forbidden), tags that may not be deployed, and
 * `tags.requireDigest` (tag.not_pinned), references that must be pinned by digest.
 */
import { globMatch } from '../policy/glob.js';
import type { Finding } from '../types.js';
import type { ImageCheck } from './types.js';

export const tagsCheck: ImageCheck = {
  name: 'tags',
  on: 'image',
  run(image, ctx) {
    const tags = ctx.requirements.groups.tags?.value;
    if (!tags || tags.mode === 'off') return { findings: [] };
    const { target } = image;
    const findings: Finding[] = [];
    const pinned = target.ref.includes('@');
    if (image.tag && !pinned) {
      const pattern = tags.forbid.find((p) => globMatch('tag', p, image.tag!));
      if (pattern) {
        findings.push({
          rule: 'tag.forbidden',
          severity: 'high',
          target,
          digest: image.digest,
          message: `${image.ref} uses the tag "${image.tag}", which the policy forbids (${pattern})`,
          remedy: `deploy a version tag or a digest: ${image.registry}/${image.repository}@${image.digest}`,
          evidence: { tag: image.tag, forbid: pattern },
        });
      }
    }
    if (tags.requireDigest && !pinned) {
      findings.push({
        rule: 'tag.not_pinned',
        severity: 'medium',
        target,
        digest: image.digest,
        message: `${target.ref} is not pinned by digest; it resolves to ${image.digest} now`,
        remedy: `write it as ${target.ref.replace(/@.*$/, '')}@${image.digest} in the config`,
        evidence: { ref: target.ref, digest: image.digest },
      });
    }
    return { findings };
  },
};
