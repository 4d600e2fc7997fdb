/**
 * Reading a file ledger: JSON Lines checked line by line as the bytes arrive (see LedgerParser), and
 * the rule for its last line (torn by a crash mid-write, or damaged after it was written).
 */
import { ChainReader, EntryIndex } from './chain.js';

const NL = 0x0a;

/**
 * The longest line a reader accepts. An entry is a few hundred bytes (a line per tag: names, a
 * digest, a digest per platform, two hashes); a longer line is damage, refused naming its line,
 * and its bytes are not held in memory while it is read. Writers stay far below it
 * (LEDGER_ENTRY_MAX_BYTES), so a line written by kamal-gate, rewritten by a merge, always reads back.
 */
export const LEDGER_LINE_MAX_BYTES = 1024 * 1024;
/** The longest line a writer writes: half the reader's limit. */
export const LEDGER_ENTRY_MAX_BYTES = LEDGER_LINE_MAX_BYTES / 2;

/** A line as the parser holds it; past the limit only that it was too long and whether it was all NUL bytes. */
interface Line {
  text: string;
  start: number;
  tooLong?: { allNul: boolean };
}

function tooLongReason(): string {
  return `line longer than ${LEDGER_LINE_MAX_BYTES / 1024 / 1024} MiB: not a ledger entry (an entry is a few hundred bytes)`;
}

function allNul(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** What reading the whole file found. */
export interface ParsedLedger {
  /** The entries up to the first broken one. */
  index: EntryIndex;
  /** Lines holding entries (or meant to), the torn last line not counted. */
  lines: number;
  firstBroken?: { seq: number; line: number; reason: string };
  torn?: { line: number; offset: number };
  /** The hash of entry seq 1, and of the entry at the seq asked for (LedgerParser's `hashAt`), when they verify. */
  firstHash?: string;
  hashAt?: string;
}

export function tryParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * Where the last line of `buf` starts, and whether it is torn. `buf` ends at the end of the file.
 * Returns undefined when the line starts before `buf` (the caller reads more). A line longer than
 * LEDGER_LINE_MAX_BYTES is torn only when it is all NUL bytes; otherwise it is damage (`tooLong`).
 */
export function lastLine(buf: Buffer, atFileStart: boolean): { start: number; torn: boolean; terminated: boolean; tooLong: boolean } | undefined {
  const size = buf.length;
  const terminated = buf[size - 1] === NL;
  const nl = terminated ? (size >= 2 ? buf.lastIndexOf(NL, size - 2) : -1) : buf.lastIndexOf(NL);
  if (nl < 0 && !atFileStart) return undefined;
  const start = nl + 1;
  const end = terminated ? size - 1 : size;
  if (end - start > LEDGER_LINE_MAX_BYTES) {
    const nul = allNul(buf.subarray(start, end));
    return { start, torn: nul, terminated, tooLong: !nul };
  }
  return { start, torn: readLastLine(buf.toString('utf8', start, end), terminated).torn, terminated, tooLong: false };
}

/**
 * The file's last line, parsed, and whether it is torn. A crash leaves the last write unfinished: its
 * line has no newline yet (or, after a power loss on some file systems, reads back as NUL bytes). A
 * line that got its newline was written whole: if it is not JSON now it was damaged afterwards,
 * which is corruption, never silently dropped.
 */
function readLastLine(text: string, terminated: boolean): { parsed: ReturnType<typeof tryParse>; torn: boolean } {
  const parsed = tryParse(text);
  return { parsed, torn: !parsed.ok && (!terminated || /^\0*$/.test(text)) };
}

/**
 * Checks a ledger line by line as its bytes arrive, so a reader never holds the whole file (at
 * 100,000 entries the file, a string of it and the array of its lines would double the memory the
 * entries need). Stops checking (but keeps counting lines) at the first broken line. The last line
 * is held back until the end: when it is not JSON it is a torn write, reported apart and not counted.
 */
export class LedgerParser {
  private readonly index = new EntryIndex();
  private readonly reader: ChainReader;
  private torn: ParsedLedger['torn'];
  /** The last complete line seen, checked when the next one arrives (or at the end, as the last line). */
  private pending: Line | undefined;
  /** A line not yet ended: its bytes (none kept once past the limit), where it starts in the file. */
  private carry: { parts: Buffer[]; bytes: number; start: number; tooLong?: { allNul: boolean } } | undefined;
  private offset = 0;

  /**
   * `checkOnly`: check every line but keep no entry (the result's index stays empty), for `ledger
   * verify` of a ledger of any size; `hashAt`: the seq whose hash the result reports.
   */
  constructor(options: { checkOnly?: boolean; hashAt?: number } = {}) {
    this.reader = new ChainReader(options.checkOnly ? undefined : this.index, options.hashAt);
  }

  feed(chunk: Buffer): void {
    let pos = 0;
    for (let nl = chunk.indexOf(NL); nl >= 0; nl = chunk.indexOf(NL, pos)) {
      let line: Line;
      if (this.carry) {
        this.extend(chunk.subarray(pos, nl), false);
        line = this.endCarry();
      } else if (nl - pos > LEDGER_LINE_MAX_BYTES) {
        line = { text: '', start: this.offset + pos, tooLong: { allNul: allNul(chunk.subarray(pos, nl)) } };
      } else {
        line = { text: chunk.toString('utf8', pos, nl), start: this.offset + pos };
      }
      if (this.pending) this.check(this.pending);
      this.pending = line;
      pos = nl + 1;
    }
    if (pos < chunk.length) {
      this.carry ??= { parts: [], bytes: 0, start: this.offset + pos };
      this.extend(chunk.subarray(pos), true);
    }
    this.offset += chunk.length;
  }

  /** Adds bytes to the line being carried; past the limit they are only looked at, not kept. */
  private extend(part: Buffer, copy: boolean): void {
    const carry = this.carry!;
    carry.bytes += part.length;
    if (!carry.tooLong && carry.bytes > LEDGER_LINE_MAX_BYTES) {
      carry.tooLong = { allNul: carry.parts.every(allNul) };
      carry.parts = [];
    }
    if (carry.tooLong) carry.tooLong.allNul &&= allNul(part);
    else carry.parts.push(copy ? Buffer.from(part) : part); // a copy when kept past this call: the caller may reuse `chunk`
  }

  private endCarry(): Line {
    const { parts, start, tooLong } = this.carry!;
    this.carry = undefined;
    return tooLong ? { text: '', start, tooLong } : { text: Buffer.concat(parts).toString('utf8'), start };
  }

  finish(): ParsedLedger {
    let last = this.pending;
    let terminated = true;
    if (this.carry) {
      // The file ends without a newline: that final fragment is the last line.
      if (last) this.check(last);
      last = this.endCarry();
      terminated = false;
    }
    this.pending = undefined;
    if (last) {
      // A damaged last line that is not torn is checked (and refused) like any other line. A line
      // longer than any entry is torn only when it is all NUL bytes (a power loss after the file
      // grew): a writer never writes a line that long, so it is not an interrupted write of one.
      const { parsed, torn } = last.tooLong ? { parsed: undefined, torn: last.tooLong.allNul } : readLastLine(last.text, terminated);
      if (torn) this.torn = { line: this.reader.count + 1, offset: last.start };
      else this.check(last, parsed);
    }
    const { count, firstBroken, first, hashAt } = this.reader;
    const result: ParsedLedger = { index: this.index, lines: count };
    if (first !== undefined) result.firstHash = first;
    if (hashAt?.hash !== undefined) result.hashAt = hashAt.hash;
    if (firstBroken) result.firstBroken = { seq: firstBroken.seq, line: firstBroken.position, reason: firstBroken.reason };
    if (this.torn) result.torn = this.torn;
    return result;
  }

  /** One line, to the chain reader: nothing is parsed once the chain has broken. */
  private check(line: Line, parsed?: ReturnType<typeof tryParse>): void {
    const reader = this.reader;
    if (reader.broken) return reader.skip();
    if (line.tooLong) return reader.refuse(tooLongReason());
    const text = line.text;
    const json = parsed ?? (text === '' ? undefined : tryParse(text));
    if (!json?.ok) return reader.refuse(text === '' ? 'empty line' : 'not valid JSON');
    reader.read(json.value);
  }
}

/** Reads and checks every line of a whole ledger held in memory (see LedgerParser). */
export function parseLedger(buf: Buffer): ParsedLedger {
  const parser = new LedgerParser();
  parser.feed(buf);
  return parser.finish();
}
