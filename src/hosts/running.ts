/**
 * `drift --hosts`: what each Kamal host runs now. One remote script per host lists the containers
 * Kamal labels for this service (`service=<service>`, and `destination=<dest>` with a destination;
 * Kamal's labels, lib/kamal/configuration/role.rb), inspects them and the images they were started
 * from; each container's image is then held against the digest the ledger approves for the tag it
 * was started with (its Config.Image). A container started from anything else is
 * `host.unapproved_image`: a re-pointed local tag, an image pulled while the tag pointed elsewhere,
 * a digest or a tag the ledger never approved.
 *
 *   const script = runningScript('app', 'production');
 *   const seen = parseRunning(host, (await runOnHost(host, script)).stdout);
 *   const findings = await judgeRunning(seen, (tag) => approvedDigest(ledger, tag));
 */
import { parseReference } from '../registry/reference.js';
import { formatTagRef, parseTagRef } from '../ledger/tag-ref.js';
import type { TagRef } from '../ledger/types.js';
import { printable } from '../printable.js';
import { shellQuote } from './quote.js';

/** Runs one script on one host over one connection (the SSH transport). */
export type RunOnHost = (host: string, script: string) => Promise<{ code: number; stdout: string; stderr: string }>;

const CONTAINERS = '--- kamal-gate containers';
const IMAGES = '--- kamal-gate images';

/** The remote script: fixed words, the service and destination quoted by shellQuote. */
export function runningScript(service: string, destination?: string): string {
  const filters = [`--filter ${shellQuote(`label=service=${service}`, `the service "${service}"`)}`];
  if (destination) filters.push(`--filter ${shellQuote(`label=destination=${destination}`, `the destination "${destination}"`)}`);
  return [
    `ids=$(docker ps -q --no-trunc ${filters.join(' ')}) || exit $?`,
    `echo '${CONTAINERS}'`,
    `if [ -n "$ids" ]; then`,
    `  docker inspect --type container --format '{{json .}}' $ids || exit $?`,
    `  echo '${IMAGES}'`,
    `  docker image inspect --format '{{json .}}' $(docker inspect --type container --format '{{.Image}}' $ids | sort -u) || exit $?`,
    `fi`,
  ].join('\n');
}

/** One container Kamal labelled for the service, as the host reports it. */
export interface RunningContainer {
  id: string;
  name: string;
  /** The reference it was started with (Config.Image). */
  image: string;
  /** The image's Id (config digest, or manifest digest with the containerd store). */
  imageId: string;
  repoDigests: string[];
  role?: string;
  status?: string;
}

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Reads the script's output; throws Error naming the host when it is not what the script prints. */
export function parseRunning(host: string, stdout: string): RunningContainer[] {
  const lines = stdout.split('\n');
  const start = lines.indexOf(CONTAINERS);
  if (start < 0) throw new Error(`host ${host}: the container listing did not come back (is docker installed and allowed for the SSH user?)`);
  const at = lines.indexOf(IMAGES, start);
  const objects = (from: number, to: number): Record<string, unknown>[] =>
    lines
      .slice(from, to)
      .filter((l) => l.trim() !== '')
      .map((l) => {
        try {
          return record(JSON.parse(l));
        } catch {
          throw new Error(`host ${host}: docker inspect printed something that is not JSON: ${printable(l, 80)}`);
        }
      });
  const containers = objects(start + 1, at < 0 ? lines.length : at);
  const images = new Map(at < 0 ? [] : objects(at + 1, lines.length).map((i) => [str(i['Id']), i] as const));
  return containers.map((c) => {
    const config = record(c['Config']);
    const labels = record(config['Labels']);
    const image = images.get(str(c['Image']));
    const repoDigests = Array.isArray(image?.['RepoDigests']) ? (image['RepoDigests'] as unknown[]).filter((d): d is string => typeof d === 'string') : [];
    const role = str(labels['role']);
    const status = str(record(c['State'])['Status']);
    return {
      id: str(c['Id']),
      name: str(c['Name']).replace(/^\//, ''),
      image: str(config['Image']),
      imageId: str(c['Image']),
      repoDigests,
      ...(role ? { role } : {}),
      ...(status ? { status } : {}),
    };
  });
}

/** A container held against the ledger. */
export interface JudgedContainer extends RunningContainer {
  host: string;
  /** The digest the ledger approves for the container's tag; absent when none is approved. */
  approved?: string;
  /** The digest of that repository the image was pulled by (from RepoDigests), when any. */
  pulled?: string;
  ok: boolean;
  /** Why it is not approved. */
  reason?: string;
}

const IMAGE_ID = /^(sha256:[0-9a-f]{64}|[0-9a-f]{12,64})$/;

/** The repository digests of `tag`'s repository an image was pulled by. */
function digestsOf(c: RunningContainer, tag: TagRef): string[] {
  const out: string[] = [];
  for (const d of c.repoDigests) {
    try {
      const p = parseReference(d);
      if (p.digest && p.registry === tag.registry && p.repository === tag.repository) out.push(p.digest);
    } catch {
      // not a reference this repository could have: ignored
    }
  }
  return out;
}

/** Holds one host's containers against the ledger's approvals (`approvedFor` reads the ledger for a tag). */
export async function judgeRunning(host: string, containers: RunningContainer[], approvedFor: (tag: TagRef) => Promise<string | undefined>): Promise<JudgedContainer[]> {
  const out: JudgedContainer[] = [];
  for (const c of containers) {
    let parsed: ReturnType<typeof parseTagRef>;
    try {
      // Started by image ID (`docker run sha256:…` or a short ID): Config.Image is the ID, no tag.
      parsed = IMAGE_ID.test(c.image) ? undefined : parseTagRef(c.image);
    } catch {
      parsed = undefined;
    }
    if (!parsed) {
      out.push({ ...c, host, ok: false, reason: `started from ${c.image || c.imageId}, which names no tag the ledger could approve` });
      continue;
    }
    const approved = await approvedFor(parsed.tag);
    const pulled = digestsOf(c, parsed.tag);
    const base = { ...c, host, ...(approved ? { approved } : {}), ...(pulled[0] ? { pulled: pulled[0] } : {}) };
    if (!approved) out.push({ ...base, ok: false, reason: `the ledger approves no digest for ${formatTagRef(parsed.tag)}` });
    else if (pulled.includes(approved)) out.push({ ...base, ok: true });
    else
      out.push({
        ...base,
        ok: false,
        reason: pulled.length
          ? `runs ${formatTagRef(parsed.tag)} at ${pulled.join(', ')}; the ledger approved ${approved}`
          : `runs image ${c.imageId}, which was not pulled from ${parsed.tag.registry}/${parsed.tag.repository} (a local build or a re-pointed tag); the ledger approved ${approved} for ${formatTagRef(parsed.tag)}`,
      });
  }
  return out;
}
