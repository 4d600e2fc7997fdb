/**
 * Where each part of a config Ruby rendered (`--erb ruby`) came from in the template: Ruby gives the
 * rendered text only, so the lines are aligned after the fact. Lines the template and the rendered
 * text share (a line diff, Myers' algorithm) map exactly; a line the ERB changed maps to the
 * template line it shares the longest start with among those it replaced (a loop's output to the
 * loop's body line; the line in the same place among equals), its
 * unchanged start and end exactly and the part in between to the ERB at that place, marked as ERB
 * output like the safe renderer marks a tag's value. So locations (findings, YAML errors) point at
 * the template line a user edits, and lint knows which values the file does not hold literally.
 */
import { OffsetMap } from './source-map.js';

/** Past this many differing lines the middle is not diffed: its lines map to the nearest template lines. */
const MAX_EDITS = 2000;
/** Past this many line comparisons a gap maps its rendered lines to template lines by position. */
const MAX_GAP_WORK = 1_000_000;

interface Line {
  /** Offset of the line's first character. */
  start: number;
  text: string;
}

function linesOf(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    out.push({ start, text: text.slice(start, nl === -1 ? text.length : nl) });
    if (nl === -1) return out;
    start = nl + 1;
  }
}

/** An OffsetMap from `rendered` (what Ruby wrote) to `template` (the file as read). */
export function alignRendered(file: string, template: string, rendered: string): OffsetMap {
  const map = new OffsetMap(file, template);
  const src = linesOf(template);
  const out = linesOf(rendered);
  const pairs = matchLines(
    src.map((l) => l.text),
    out.map((l) => l.text),
  );
  // Walk the matched lines; between two of them lies a gap of changed lines on each side.
  let si = 0;
  let oi = 0;
  for (const [ms, mo] of [...pairs, [src.length, out.length] as const]) {
    mapGap(map, src.slice(si, ms), out.slice(oi, mo), src[ms]?.start ?? template.length);
    if (ms < src.length && mo < out.length) map.literal(out[mo]!.start, src[ms]!.start);
    si = ms + 1;
    oi = mo + 1;
  }
  return map;
}

/** Maps the changed rendered lines `outs` to the template lines `srcs` they took the place of. */
function mapGap(map: OffsetMap, srcs: Line[], outs: Line[], nextSrc: number): void {
  if (outs.length === 0) return;
  if (srcs.length === 0) {
    // Lines with no template line in their place: the ERB output that made them ends just before `nextSrc`.
    for (const o of outs) map.value(o.start, Math.max(0, nextSrc - 1), {});
    return;
  }
  const pick =
    srcs.length * outs.length > MAX_GAP_WORK
      ? (i: number) => srcs[Math.min(i, srcs.length - 1)]!
      : (i: number) => closest(srcs, outs[i]!.text, srcs.length === outs.length ? i : Math.min(i, srcs.length - 1));
  outs.forEach((o, i) => mapLine(map, pick(i), o));
}

/**
 * The template line sharing the longest start with `text`; among equals, the one nearest `near`
 * (the line in the same place, when as many lines came out as went in).
 */
function closest(srcs: Line[], text: string, near: number): Line {
  let best = near;
  let bestLen = -1;
  srcs.forEach((s, j) => {
    const n = commonPrefix(s.text, text);
    if (n > bestLen || (n === bestLen && Math.abs(j - near) < Math.abs(best - near))) {
      best = j;
      bestLen = n;
    }
  });
  return srcs[best]!;
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** One changed line: its shared start and end map exactly, the rest to the ERB where they differ. */
function mapLine(map: OffsetMap, s: Line, o: Line): void {
  const prefix = commonPrefix(s.text, o.text);
  const room = Math.min(s.text.length, o.text.length) - prefix;
  let suffix = 0;
  while (suffix < room && s.text.charCodeAt(s.text.length - 1 - suffix) === o.text.charCodeAt(o.text.length - 1 - suffix)) suffix++;
  if (prefix > 0) map.literal(o.start, s.start);
  const middle = o.text.length - prefix - suffix;
  if (middle > 0 || prefix === 0) map.value(o.start + prefix, s.start + prefix, {});
  // The line end is copied too: the newline after the line maps to the template's.
  map.literal(o.start + o.text.length - suffix, s.start + s.text.length - suffix);
}

/**
 * Index pairs [a, b] of equal lines, increasing in both, forming a longest common subsequence
 * (Myers' O((N+M)D) diff); the common start and end are matched first. With more than MAX_EDITS
 * differences the middle stays unmatched.
 */
function matchLines(a: string[], b: string[]): Array<readonly [number, number]> {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const pairs: Array<readonly [number, number]> = [];
  for (let i = 0; i < head; i++) pairs.push([i, i]);
  const ids = new Map<string, number>();
  const id = (s: string): number => {
    let v = ids.get(s);
    if (v === undefined) ids.set(s, (v = ids.size));
    return v;
  };
  const ma = a.slice(head, a.length - tail).map(id);
  const mb = b.slice(head, b.length - tail).map(id);
  for (const [x, y] of myers(ma, mb)) pairs.push([x + head, y + head]);
  for (let i = tail; i > 0; i--) pairs.push([a.length - i, b.length - i]);
  return pairs;
}

function myers(a: number[], b: number[]): Array<[number, number]> {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return [];
  // trace[d][k + d] = the furthest x on diagonal k after d edits.
  const trace: Int32Array[] = [];
  const limit = Math.min(n + m, MAX_EDITS);
  for (let d = 0; d <= limit; d++) {
    const prev = trace[d - 1];
    const cur = new Int32Array(2 * d + 1);
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (!prev) x = 0;
      else if (k === -d || (k !== d && prev[k - 1 + d - 1]! < prev[k + 1 + d - 1]!)) x = prev[k + 1 + d - 1]!;
      else x = prev[k - 1 + d - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      cur[k + d] = x;
      if (x >= n && y >= m) {
        trace.push(cur);
        return backtrack(trace, n, m, a, b);
      }
    }
    trace.push(cur);
  }
  return [];
}

function backtrack(trace: Int32Array[], n: number, m: number, a: number[], b: number[]): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d > 0; d--) {
    const prev = trace[d - 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && prev[k - 1 + d - 1]! < prev[k + 1 + d - 1]!);
    const pk = down ? k + 1 : k - 1;
    const px = prev[pk + d - 1]!;
    const py = px - pk;
    // After the edit from (px, py), a run of equal lines leads to (x, y).
    const sx = down ? px : px + 1;
    const sy = down ? py + 1 : py;
    for (let i = x - sx - 1; i >= 0; i--) pairs.push([sx + i, sy + i]);
    x = px;
    y = py;
  }
  for (let i = x - 1; i >= 0; i--) if (a[i] === b[i]) pairs.push([i, i]);
  return pairs.reverse();
}
