/**
 * Coverage: every manifest a host of the deploy can pull must be signed, not just one of them.
 *
 * A signature (or attestation) on the index digest covers every platform of the index: the index
 * names each platform manifest by digest. Otherwise each platform the deploy targets (Kamal's
 * `builder.arch`, or `--platform`) needs its own, on the digest of the manifest a host of that
 * platform pulls (Subject.platformDigests, chosen as the container runtime chooses it). Without
 * this, an index that puts an old signed amd64 manifest beside a new unsigned arm64 one would pass
 * on the amd64 signature while every arm64 host runs unsigned code. With `count: N`, every targeted
 * platform needs N distinct signers, counting those who signed the index and those who signed
 * that platform's manifest.
 */
import type { Subject } from '../types.js';
import type { Outcome } from './verify.js';

/** A targeted platform whose manifest is not covered. */
export interface PlatformGap {
  /** As the deploy names it: `linux/arm64`. */
  platform: string;
  /** The manifest a host of that platform pulls. */
  digest: string;
  /** Who covers it all the same (fewer than needed): signer ids, or attestation sources. */
  by: string[];
}

/** The deployed digests a passing outcome covers: every in-toto subject among them, or the one digest a payload signs. */
export function coveredDigests(outcome: Extract<Outcome, { ok: true }>, deployed: string[]): string[] {
  const named = outcome.statement?.subjectDigests ?? [outcome.boundTo];
  return [...new Set([outcome.boundTo, ...named.filter((d) => deployed.includes(d))])];
}

/**
 * The targeted platforms with fewer than `need` distinct coverers, where `by(digest)` says who
 * covers a digest; whoever covers the index digest covers every platform.
 */
export function uncoveredPlatforms(subject: Subject, by: (digest: string) => ReadonlySet<string> | undefined, need = 1): PlatformGap[] {
  const index = by(subject.digest) ?? new Set<string>();
  const gaps: PlatformGap[] = [];
  for (const [platform, digest] of Object.entries(subject.platformDigests)) {
    const all = new Set([...index, ...(by(digest) ?? [])]);
    if (all.size < need) gaps.push({ platform, digest, by: [...all] });
  }
  return gaps;
}
