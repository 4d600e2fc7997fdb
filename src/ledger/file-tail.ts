/**
 * What a writer of the file ledger needs from the end of the file (the entry to chain onto, a torn
 * last line to cut away), read without holding more than a few MiB whatever the file holds; and a
 * whole ledger checked from an open handle a chunk at a time.
 *
 * Only an interrupted write is ever cut away: a final fragment that is not JSON and no longer than
 * an entry can be, or a run of NUL bytes (a power loss after the file grew). A final line longer
 * than any entry that is not all NUL bytes was never written by kamal-gate: it is damage, and the
 * writer refuses to append (the caller names the line) rather than drop it.
 */
import type { FileHandle } from 'node:fs/promises';
import { checkStored, type ChainTip } from './chain.js';
import { LEDGER_LINE_MAX_BYTES, LedgerParser, lastLine, tryParse, type ParsedLedger } from './file-parser.js';

const NL = 0x0a;
const READ_CHUNK = 1 << 20;
/** Two lines of the longest length a reader accepts fit in a read this large. */
const MAX_TAIL_READ = 4 * LEDGER_LINE_MAX_BYTES;

export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

/** Reads and checks the whole ledger behind `fh` a chunk at a time, from its start (`options`: see LedgerParser). */
export async function parseLedgerHandle(fh: FileHandle, options?: ConstructorParameters<typeof LedgerParser>[0]): Promise<ParsedLedger> {
  const parser = new LedgerParser(options);
  const chunk = Buffer.allocUnsafe(READ_CHUNK);
  for (let position = 0; ; ) {
    const { bytesRead } = await fh.read(chunk, 0, READ_CHUNK, position);
    if (bytesRead === 0) break;
    parser.feed(chunk.subarray(0, bytesRead));
    position += bytesRead;
  }
  return parser.finish();
}

/** What a writer needs from the end of the file. */
export interface Tail {
  tip: ChainTip | null;
  /** Offset of a torn last line to truncate. */
  tornOffset?: number;
  /** The last line is a complete entry without its newline. */
  missingNewline: boolean;
  /** The entry to chain onto does not verify: the caller parses the whole file for the message. */
  broken: boolean;
}

const BROKEN: Tail = { tip: null, missingNewline: false, broken: true };

export async function readTail(fh: FileHandle, size: number): Promise<Tail> {
  if (size === 0) return { tip: null, missingNewline: false, broken: false };
  for (let chunk = 64 * 1024; ; chunk *= 4) {
    // The last lines do not fit in the largest read: one of them is longer than any entry.
    if (chunk > MAX_TAIL_READ) return overlongTail(fh, size);
    const start = Math.max(0, size - chunk);
    const buf = await readAt(fh, start, size - start);
    const atFileStart = start === 0;
    const last = lastLine(buf, atFileStart);
    if (!last) continue;
    if (last.tooLong) return BROKEN;
    let entryEnd = buf.length;
    let tornOffset: number | undefined;
    if (last.torn) {
      tornOffset = start + last.start;
      entryEnd = last.start; // the entry line ends with the newline just before the torn line
      if (entryEnd === 0) {
        if (atFileStart) return { tip: null, tornOffset, missingNewline: false, broken: false };
        continue;
      }
    }
    // The line [lineStart, lineEnd) before entryEnd (which is either the end or just after a newline).
    const lineEnd = buf[entryEnd - 1] === NL ? entryEnd - 1 : entryEnd;
    const nl = lineEnd > 0 ? buf.lastIndexOf(NL, lineEnd - 1) : -1;
    if (nl < 0 && !atFileStart) continue;
    const missingNewline = !last.torn && !last.terminated;
    if (lineEnd - (nl + 1) > LEDGER_LINE_MAX_BYTES) return { ...BROKEN, missingNewline };
    const parsed = tryParse(buf.toString('utf8', nl + 1, lineEnd));
    const checked = parsed.ok ? checkStored(parsed.value) : undefined;
    if (!checked?.entry) return { tip: null, tornOffset, missingNewline, broken: true };
    return { tip: { seq: checked.entry.seq, hash: checked.entry.hash }, tornOffset, missingNewline, broken: false };
  }
}

/**
 * The end of the file is a line longer than any entry. Torn when it is all NUL bytes back to the
 * previous newline (then the entry before it is read as usual); anything else is damage.
 */
async function overlongTail(fh: FileHandle, size: number): Promise<Tail> {
  let pos = size;
  if ((await readAt(fh, size - 1, 1))[0] === NL) pos--; // a NUL line that got its newline is torn too
  while (pos > 0) {
    const start = Math.max(0, pos - READ_CHUNK);
    const buf = await readAt(fh, start, pos - start);
    for (let i = buf.length - 1; i >= 0; i--) {
      if (buf[i] === NL) {
        const tornOffset = start + i + 1;
        const before = await readTail(fh, tornOffset);
        return { ...before, tornOffset: before.tornOffset ?? tornOffset, missingNewline: false };
      }
      if (buf[i] !== 0) return BROKEN;
    }
    pos = start;
  }
  return { tip: null, tornOffset: 0, missingNewline: false, broken: false };
}
