/**
 * Reading a file ledger: JSON Lines checked line by line as the bytes arrive (see LedgerParser), and
 * the rule for its last line (torn by a crash mid-write, or damaged after it was written).
 */
import { EntryIndex, checkStored, linkProblem, type ChainTip } from './chain.js';

const NL = 0x0a;

/** What reading the whole file found. */
export interface ParsedLedger {
  /** The entries up to the first broken one. */
  index: EntryIndex;
  /** Lines holding entries (or meant to), the torn last line not counted. */
  lines: number;
  firstBroken?: { seq: number; line: number; reason: string };
  torn?: { line: number; offset: number };
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
 * Returns undefined when the line starts before `buf` (the caller reads more).
 */
export function lastLine(buf: Buffer, atFileStart: boolean): { start: number; torn: boolean; terminated: boolean } | undefined {
  const size = buf.length;
  const terminated = buf[size - 1] === NL;
  const nl = terminated ? (size >= 2 ? buf.lastIndexOf(NL, size - 2) : -1) : buf.lastIndexOf(NL);
  if (nl < 0 && !atFileStart) return undefined;
  const start = nl + 1;
  const end = terminated ? size - 1 : size;
  return { start, torn: readLastLine(buf.toString('utf8', start, end), terminated).torn, terminated };
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
  private readonly result: ParsedLedger = { index: new EntryIndex(), lines: 0 };
  private tip: ChainTip | null = null;
  /** The last complete line seen, checked when the next one arrives (or at the end, as the last line). */
  private pending: { text: string; start: number } | undefined;
  /** Bytes of a line not yet ended, and where it starts in the file. */
  private carry: Buffer[] = [];
  private carryStart = 0;
  private offset = 0;

  feed(chunk: Buffer): void {
    let pos = 0;
    for (let nl = chunk.indexOf(NL); nl >= 0; nl = chunk.indexOf(NL, pos)) {
      let line: { text: string; start: number };
      if (this.carry.length) {
        this.carry.push(chunk.subarray(pos, nl));
        line = { text: Buffer.concat(this.carry).toString('utf8'), start: this.carryStart };
        this.carry = [];
      } else {
        line = { text: chunk.toString('utf8', pos, nl), start: this.offset + pos };
      }
      if (this.pending) this.check(this.pending.text);
      this.pending = line;
      pos = nl + 1;
    }
    if (pos < chunk.length) {
      if (!this.carry.length) this.carryStart = this.offset + pos;
      this.carry.push(Buffer.from(chunk.subarray(pos))); // a copy: the caller may reuse `chunk`
    }
    this.offset += chunk.length;
  }

  finish(): ParsedLedger {
    let last = this.pending;
    let terminated = true;
    if (this.carry.length) {
      // The file ends without a newline: that final fragment is the last line.
      if (last) this.check(last.text);
      last = { text: Buffer.concat(this.carry).toString('utf8'), start: this.carryStart };
      this.carry = [];
      terminated = false;
    }
    this.pending = undefined;
    if (last) {
      // A damaged last line that is not torn is checked (and refused) like any other line.
      const { parsed, torn } = readLastLine(last.text, terminated);
      if (torn) this.result.torn = { line: this.result.lines + 1, offset: last.start };
      else this.check(last.text, parsed);
    }
    return this.result;
  }

  private readonly names = new Map<string, string>();

  private intern<T extends string>(s: T): T {
    const known = this.names.get(s);
    if (known !== undefined) return known as T;
    this.names.set(s, s);
    return s;
  }

  private check(text: string, parsed?: ReturnType<typeof tryParse>): void {
    const result = this.result;
    result.lines++;
    if (result.firstBroken) return;
    const tip = this.tip;
    const expectedSeq = (tip?.seq ?? 0) + 1;
    const json = parsed ?? (text === '' ? undefined : tryParse(text));
    if (!json?.ok) {
      result.firstBroken = { seq: expectedSeq, line: result.lines, reason: text === '' ? 'empty line' : 'not valid JSON' };
      return;
    }
    const checked = checkStored(json.value);
    const problem = checked.reason ?? linkProblem(checked.entry, tip);
    if (problem) {
      const seq = checked.entry?.seq ?? (typeof (json.value as { seq?: unknown })?.seq === 'number' ? (json.value as { seq: number }).seq : expectedSeq);
      result.firstBroken = { seq, line: result.lines, reason: problem };
      return;
    }
    const entry = checked.entry!;
    // prev was just found equal to the previous entry's hash: keep one copy of that string. The
    // names that repeat from entry to entry are kept once each too: less memory and less for the
    // garbage collector to move, and map lookups on strings whose hash is already computed.
    if (tip) entry.prev = tip.hash;
    entry.registry = this.intern(entry.registry);
    entry.repository = this.intern(entry.repository);
    entry.tag = this.intern(entry.tag);
    entry.event = this.intern(entry.event);
    entry.source = this.intern(entry.source);
    result.index.add(entry);
    this.tip = { seq: entry.seq, hash: entry.hash };
  }
}

/** Reads and checks every line of a whole ledger held in memory (see LedgerParser). */
export function parseLedger(buf: Buffer): ParsedLedger {
  const parser = new LedgerParser();
  parser.feed(buf);
  return parser.finish();
}
