/**
 * Which entry of an index a host pulls: the choice containerd's default platform matcher makes
 * (containerd/platforms `Only(host)`, applied by containerd's pull through `FilterPlatforms` and
 * `LimitManifests(…, 1)`; moby's own pull path, `filterManifests`, does the same). kamal-gate checks
 * the manifest a Kamal host will run, so it must choose exactly that one, never a "better" one.
 *
 * The rules, for a host of platform H (Kamal's `builder.arch`, `linux/<arch>`, or `--platform`):
 *
 *  1. Normalization, of H and of every entry, before anything is compared: os and architecture are
 *     lower-cased; os `macos` is `darwin` and an empty os is the host's; `x86_64`/`x86-64` are
 *     `amd64` and `amd64/v1` is plain `amd64`; `i386` is `386` (variant dropped); `aarch64` is
 *     `arm64`, and `arm64/v8` (or `8`, `v8.0`) is plain `arm64`, `arm64/9` (`9.0`, `v9.0`) is
 *     `arm64/v9`; `armhf` is `arm/v7`, `armel` is `arm/v6`, `arm` without a variant (or `7`) is
 *     `arm/v7`, and `arm/5`, `/6`, `/8` gain their `v`. Nothing else is rewritten.
 *  2. The host accepts, in this order of preference (its "vector"):
 *       amd64/vN   → amd64/vN, amd64/v(N-1), …, amd64 (v1), then 386;  a plain amd64 host: amd64, 386
 *       arm/vN     → arm/vN, arm/v(N-1), …, arm/v5  (nothing above the host's own variant)
 *       arm64/v8.x → arm64/v8.x … arm64/v8 (plain arm64), then arm/v8, arm/v7, arm/v6, arm/v5
 *       arm64/v9.x → arm64/v9.x … arm64/v9, then arm64/v8.(x+5, at most 9) … arm64/v8, then 32-bit arm
 *       (an arm64 variant outside v8…v8.9 / v9…v9.7 accepts nothing at all)
 *       any other  → exactly itself.
 *     A Kamal host is `amd64` or `arm64` (v8): amd64 hosts also run 386 images, arm64 hosts also
 *     run 32-bit arm (v8 down to v5) images.
 *  3. An entry matches an element of the vector when os, architecture and variant are equal after
 *     normalization. `os.version` is not compared (containerd compares it only for Windows; Windows
 *     hosts are not modelled, kamal-gate resolves Linux hosts). An entry that lists `os.features`
 *     matches only a host that has every one of them, and a Linux host has none: such an entry is
 *     never pulled on Linux.
 *  4. Among the entries that match, the one matching the earliest element of the vector wins; among
 *     entries matching the same element, the first in index order wins (a stable sort). Annotations
 *     play no part: an entry annotated `vnd.docker.reference.type: attestation-manifest` that
 *     claims `linux/amd64` IS what an amd64 host pulls. BuildKit's real attestation manifests say
 *     `unknown/unknown`, which matches no host, and that is the only reason they are never pulled.
 *  5. Entries without a platform sort after every entry with one: the first of them is chosen only
 *     when no entry with a platform matches, and the host runs it only if its config names the
 *     host's platform (checked by the registry client once the config is read).
 *  6. Nothing matches: no image for the host (`platform.missing`).
 *
 * skopeo 1.9.3 (containers/image 5.23, `ChooseInstance`) agrees on rules 3's os.version, 4 and 5 and
 * on exact matches, but does not normalize entries (`aarch64`, `arm` without a variant and
 * `amd64/v1` are not what it asks for), never falls back from amd64 to 386 or from arm64 to 32-bit
 * arm, ignores `os.features`, and tries an empty variant last for an arm host with a variant.
 * test/registry/platform-choice.test.ts runs both on the same indexes and shows each difference.
 */
import type { Descriptor, Platform } from './oci.js';

/** An entry's platform as an index writes it. */
export type EntryPlatform = NonNullable<Descriptor['platform']>;

function normalizeArch(architecture: string, variant: string): { architecture: string; variant: string } {
  let arch = architecture.toLowerCase();
  let v = variant.toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      v = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (v === 'v1') v = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (v === '8' || v === 'v8' || v === 'v8.0') v = '';
      else if (v === '9' || v === '9.0' || v === 'v9.0') v = 'v9';
      break;
    case 'armhf':
      arch = 'arm';
      v = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      v = 'v6';
      break;
    case 'arm':
      if (v === '' || v === '7') v = 'v7';
      else if (v === '5' || v === '6' || v === '8') v = `v${v}`;
      break;
  }
  return { architecture: arch, variant: v };
}

function normalizeOs(os: string, hostOs?: string): string {
  const o = os.toLowerCase();
  if (o === '' && hostOs !== undefined) return hostOs;
  return o === 'macos' ? 'darwin' : o;
}

/** containerd's normalization (rule 1); the result carries os, architecture and a non-empty variant only. */
export function normalizePlatform(p: Platform, hostOs?: string): Platform {
  const { architecture, variant } = normalizeArch(p.architecture, p.variant ?? '');
  const out: Platform = { os: normalizeOs(p.os, hostOs), architecture };
  if (variant) out.variant = variant;
  return out;
}

/** Whether two platforms are the same once normalized (`arm64/v8` = `arm64`, `aarch64` = `arm64`). */
export function samePlatform(a: Platform, b: Platform): boolean {
  const x = normalizePlatform(a);
  const y = normalizePlatform(b);
  return x.os === y.os && x.architecture === y.architecture && (x.variant ?? '') === (y.variant ?? '');
}

/** `v8` → 8, `3` → 3; NaN when the variant is not a (v-prefixed) whole number. */
function variantNumber(variant: string | undefined): number {
  const s = (variant ?? '').replace(/^v/, '');
  return /^[0-9]+$/.test(s) ? Number(s) : NaN;
}

const ARM64_V8_MINOR_MAX = 9;
const ARM64_V9_MINOR_MAX = 7;

/** arm64 variants a host of `variant` runs, best first, or undefined for a variant containerd does not know. */
function arm64Variants(variant: string): string[] | undefined {
  const m = /^v([89])(?:\.([0-9]))?$/.exec(variant || 'v8');
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  if (major === 9 && minor > ARM64_V9_MINOR_MAX) return undefined;
  const down = (maj: number, from: number) => Array.from({ length: from + 1 }, (_, i) => (from - i ? `v${maj}.${from - i}` : `v${maj}`));
  return major === 8 ? down(8, minor) : [...down(9, minor), ...down(8, Math.min(minor + 5, ARM64_V8_MINOR_MAX))];
}

/** The platforms a host accepts, in its order of preference (rule 2), each normalized. */
export function hostVector(host: Platform): Platform[] {
  const h = normalizePlatform(host);
  const at = (architecture: string, variant?: string) => normalizePlatform({ os: h.os, architecture, ...(variant ? { variant } : {}) });
  const n = variantNumber(h.variant);
  switch (h.architecture) {
    case 'amd64': {
      const lower = n > 1 ? Array.from({ length: n - 1 }, (_, i) => at('amd64', `v${n - 1 - i}`)) : [];
      return [h, ...lower, at('386')];
    }
    case 'arm':
      return [h, ...(n > 5 ? Array.from({ length: n - 5 }, (_, i) => at('arm', `v${n - 1 - i}`)) : [])];
    case 'arm64': {
      const variants = arm64Variants(h.variant ?? '');
      if (!variants) return [];
      return [...variants.map((v) => at('arm64', v)), ...hostVector({ os: h.os, architecture: 'arm', variant: 'v8' })];
    }
    default:
      return [h];
  }
}

/** The position of the vector element an entry's platform matches (rule 3), or -1. */
function rankIn(vector: Platform[], p: EntryPlatform, hostOs: string): number {
  if (p['os.features']?.length) return -1;
  const e = normalizePlatform(p, hostOs);
  return vector.findIndex((v) => v.os === e.os && v.architecture === e.architecture && (v.variant ?? '') === (e.variant ?? ''));
}

/** Whether a host of platform `host` runs an image of platform `p` (containerd's `Only(host).Match(p)`). */
export function hostRuns(host: Platform, p: EntryPlatform): boolean {
  return rankIn(hostVector(host), p, normalizePlatform(host).os) >= 0;
}

/** The entry of an index a host of platform `host` pulls (rules 2–6), or undefined when none matches. */
export function selectPlatform(manifests: Descriptor[], host: Platform): Descriptor | undefined {
  const vector = hostVector(host);
  const hostOs = normalizePlatform(host).os;
  let best: { d: Descriptor; rank: number } | undefined;
  for (const d of manifests) {
    // No host is unknown/unknown, so such an entry never runs, even under --platform unknown/unknown.
    if (!isRunnableEntry(d)) continue;
    const rank = rankIn(vector, d.platform!, hostOs);
    if (rank >= 0 && (!best || rank < best.rank)) best = { d, rank };
  }
  return best?.d ?? manifests.find((d) => !d.platform);
}

/** Entries a host could run: any with a platform other than `unknown/unknown` (BuildKit attestations). */
function isRunnableEntry(d: Descriptor): boolean {
  if (!d.platform) return false;
  return !(d.platform.os === 'unknown' && d.platform.architecture === 'unknown');
}

/** The platforms an index offers, as written (for messages and the `platforms` of a subject). */
export function indexPlatforms(manifests: Descriptor[]): Platform[] {
  return manifests.filter(isRunnableEntry).map((d) => {
    const p: Platform = { os: d.platform!.os, architecture: d.platform!.architecture };
    if (d.platform!.variant) p.variant = d.platform!.variant;
    return p;
  });
}
