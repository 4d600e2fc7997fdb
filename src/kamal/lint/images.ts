/**
 * Images deployed by a tag that can move: the latest tag or none (`config.image_latest`), and
 * accessories by a tag without a digest (`config.accessory_unpinned`). The app image is left to
 * the registry checks: Kamal tags it with the version it builds.
 */
import type { Target } from '../../types.js';
import type { Report, RuleChecks } from './rule.js';

/** The tag of a reference as written, or undefined when it has none; `digest` when pinned. */
function tagOf(ref: string): { tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  const digest = at === -1 ? undefined : ref.slice(at + 1);
  const name = at === -1 ? ref : ref.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const tag = colon > slash ? name.slice(colon + 1) : undefined;
  return { ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** An accessory or proxy image written in the config and not pinned by digest, with its tag. */
function unpinned(t: Target): { tag: string | undefined; what: string; source: NonNullable<Target['source']> } | undefined {
  if (t.role === 'app' || !t.source) return undefined;
  const { tag, digest } = tagOf(t.ref);
  if (digest) return undefined;
  return { tag, what: t.role === 'accessory' ? `accessories.${t.name}.image` : 'the kamal-proxy image', source: t.source };
}

export const imageLatest: RuleChecks = {
  image(report: Report, t: Target): void {
    const u = unpinned(t);
    if (!u || (u.tag !== undefined && u.tag !== 'latest')) return;
    report({
      severity: 'medium',
      target: t,
      source: u.source,
      message: `${u.what} ${t.ref} ${u.tag ? 'uses the latest tag' : 'has no tag, so Docker pulls latest'}: each host runs whatever was pushed last when it booted`,
      remedy: `name a version and pin it by digest: ${t.ref.replace(/:latest$/, '')}:<version>@sha256:… (kamal-gate verify prints the digest)`,
      evidence: { ref: t.ref },
    });
  },
};

export const accessoryUnpinned: RuleChecks = {
  image(report: Report, t: Target): void {
    const u = unpinned(t);
    if (!u || u.tag === undefined || u.tag === 'latest' || t.role !== 'accessory') return;
    report({
      severity: 'medium',
      target: t,
      source: u.source,
      message: `${u.what} ${t.ref} is not pinned by digest: the tag can be moved to another image, and accessories are not re-checked on deploy`,
      remedy: `pin it: ${t.ref}@sha256:<digest> (kamal-gate verify prints the digest under Pinned)`,
      evidence: { ref: t.ref },
    });
  },
};
