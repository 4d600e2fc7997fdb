/**
 * What a host holds under the reference Kamal boots: one remote script per host runs
 * `docker image inspect` for each reference (values quoted by shellQuote, one marker line with the
 * exit code after each), and each answer is held against the gated image: `RepoDigests` must name
 * the gated digest of the image's repository, and `Id` must be the gated platform manifest's config
 * digest (classic image store) or the manifest digest (containerd image store).
 *
 *   const script = inspectScript(['127.0.0.1:5000/app:v1']);
 *   const seen = parseInspect(host, refs, (await runOnHost(host, script, ssh)).stdout);
 *   const verdict = compareHeld(seen[0], expectedOf(image));
 */
import { parseReference, repositoryName } from '../registry/reference.js';
import { printable } from '../printable.js';
import type { ResolvedImage } from '../types.js';
import { shellQuote } from './quote.js';

const MARKER = '@@kamal-gate-inspect-end';

/** The remote script: fixed words, each reference quoted; after each inspect, the marker and its exit code. */
export function inspectScript(refs: readonly string[]): string {
  return refs.map((ref) => `docker image inspect --format '{{json .}}' -- ${shellQuote(ref, `the image reference "${ref}"`)} 2>&1; printf '\\n${MARKER} %s\\n' "$?"`).join('\n');
}

/** One reference as a host holds it. */
export type HeldImage =
  | { ref: string; state: 'present'; id: string; repoDigests: string[] }
  | { ref: string; state: 'missing' }
  /** docker refused or failed on the host: the image could not be checked there. */
  | { ref: string; state: 'error'; message: string };

/** The script's output, one answer per reference in order. Anything it cannot read is an `error` answer. */
export function parseInspect(host: string, refs: readonly string[], stdout: string): HeldImage[] {
  const answers: Array<{ code: number; text: string }> = [];
  let text: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = line.startsWith(MARKER) ? /^\S+ (\d+)$/.exec(line) : null;
    if (m) {
      answers.push({ code: Number(m[1]), text: text.join('\n').trim() });
      text = [];
    } else text.push(line);
  }
  return refs.map((ref, i): HeldImage => {
    const a = answers[i];
    if (!a) return { ref, state: 'error', message: `${host}: the inspect of ${ref} gave no answer (the session ended early)` };
    if (a.code !== 0) {
      if (/No such image/i.test(a.text)) return { ref, state: 'missing' };
      return { ref, state: 'error', message: `${host}: docker image inspect ${ref} failed (exit ${a.code}): ${printable(a.text, 300)}` };
    }
    try {
      const v = JSON.parse(a.text.split('\n').pop() ?? '') as { Id?: unknown; RepoDigests?: unknown };
      if (typeof v.Id !== 'string') throw new Error('no Id');
      const repoDigests = Array.isArray(v.RepoDigests) ? v.RepoDigests.filter((d): d is string => typeof d === 'string') : [];
      return { ref, state: 'present', id: v.Id, repoDigests };
    } catch {
      return { ref, state: 'error', message: `${host}: docker image inspect ${ref} answered something that is not an image: ${printable(a.text, 200)}` };
    }
  });
}

/** How a held image compares with the gated one. */
export interface HeldVerdict {
  ok: boolean;
  /** The repository's digests the host names (RepoDigests of the image's repository). */
  repoDigests: string[];
  /** Whether RepoDigests names the gated digest. */
  digestNamed: boolean;
  /** Whether Id is the config digest or a manifest digest of the gated image. */
  idMatches: boolean;
}

/** The image a host must hold: its repository, the digest its tag was gated at, and the Ids it may have there. */
export interface ExpectedImage {
  /** `registry/repository`. */
  repository: string;
  digest: string;
  /** The config digest (classic image store) and manifest digests (containerd image store) of that digest. */
  ids: Set<string>;
}

/** What a host must hold for a resolved image (the gated digest, or a digest it was resolved at: the ledger's on a rollback). */
export function expectedOf(image: Pick<ResolvedImage, 'registry' | 'repository' | 'digest' | 'platformDigests' | 'platformDigest' | 'config'>): ExpectedImage {
  const ids = new Set<string>([image.digest, ...Object.values(image.platformDigests)]);
  if (image.platformDigest) ids.add(image.platformDigest);
  if (image.config?.digest) ids.add(image.config.digest);
  return { repository: repositoryName(image), digest: image.digest, ids };
}

/** Compares what the host holds with the image it must hold. */
export function compareHeld(held: Extract<HeldImage, { state: 'present' }>, expected: ExpectedImage): HeldVerdict {
  const repoDigests = held.repoDigests.flatMap((d) => {
    try {
      const r = parseReference(d);
      return repositoryName(r) === expected.repository && r.digest ? [r.digest] : [];
    } catch {
      return [];
    }
  });
  const digestNamed = repoDigests.includes(expected.digest);
  const idMatches = expected.ids.has(held.id);
  return { ok: digestNamed && idMatches, repoDigests, digestNamed, idMatches };
}
