/**
 * Maps offsets in ERB-rendered text back to the template it came from, so that YAML positions
 * (node ranges, parse errors) point at the source line even when trimming removed newlines or an
 * ENV value added some.
 */

/** A 1-based position in a source file; `env` is set when the text came from an ERB ENV lookup. */
export interface Loc {
  file: string;
  line: number;
  column: number;
  /** The text at this position was produced by an ERB tag; `env` names the variable it read, if any. */
  erb?: { env?: string };
}

interface Segment {
  /** Offset in the rendered text where this segment starts. */
  out: number;
  /** Offset in the source: for a literal, of its first character; for a value, of its ERB tag. */
  src: number;
  /** Present for text an ERB tag produced: every character maps to the tag. */
  erb?: { env?: string };
}

export class OffsetMap {
  private readonly segments: Segment[] = [];
  private readonly lineStarts: number[] = [0];

  constructor(
    readonly file: string,
    source: string,
  ) {
    for (let i = source.indexOf('\n'); i !== -1; i = source.indexOf('\n', i + 1)) this.lineStarts.push(i + 1);
  }

  /** Rendered text from `out` on is copied from the source at `src`. */
  literal(out: number, src: number): void {
    this.segments.push({ out, src });
  }

  /** Rendered text from `out` on was produced by the ERB tag at `src`. */
  value(out: number, src: number, erb: { env?: string }): void {
    this.segments.push({ out, src, erb });
  }

  /** Source position of an offset in the rendered text. */
  locate(out: number): Loc {
    const seg = this.segmentAt(out);
    if (!seg) return { file: this.file, ...this.position(0) };
    if (seg.erb) return { file: this.file, ...this.position(seg.src), erb: seg.erb };
    return { file: this.file, ...this.position(seg.src + (out - seg.out)) };
  }

  /** 1-based line and column of a source offset. */
  position(src: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= src) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: src - (this.lineStarts[lo] ?? 0) + 1 };
  }

  /** The last segment starting at or before `out` (segments are pushed in rendering order). */
  private segmentAt(out: number): Segment | undefined {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found: Segment | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const seg = this.segments[mid]!;
      if (seg.out <= out) {
        found = seg;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}
