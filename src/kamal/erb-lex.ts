/**
 * The lexing half of the ERB expression parser (erb-expr.ts): a cursor over a tag's code that
 * skips whitespace as Ruby does, reads identifiers, and reads string literals with Ruby's escape
 * rules: single-quoted (`\\` and `\'` only) and double-quoted (`\n`, octal, `\x`, `\u`, line
 * continuation, any other character standing for itself, `#{…}` interpolation). What it cannot
 * read exactly as Ruby does (a raw byte above 0x7F, `\c`/`\C-`/`\M-`, `#@var`) throws `Outside`.
 */

/** Thrown when the code leaves the subset; erb-expr.ts turns it into "refused". */
export class Outside extends Error {}

/** Spaces as Ruby's lexer skips them between tokens (a lone \r counts as a space). */
const SPACE = new Set([' ', '\t', '\f', '\v', '\r']);
const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
export const IDENT = /[A-Za-z0-9_\u0080-\uffff]/;
const HEX = /[0-9a-fA-F]/;
const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', a: '\x07', b: '\b', e: '\x1b', s: ' ' };

export class Cursor {
  pos = 0;
  constructor(protected readonly s: string) {}

  fail(): never {
    throw new Outside();
  }

  done(): boolean {
    return this.pos === this.s.length;
  }

  /** Skips spaces (no newline); returns how many. */
  spaces(): number {
    const from = this.pos;
    while (SPACE.has(this.s[this.pos] ?? '')) this.pos++;
    return this.pos - from;
  }

  /** Skips spaces and newlines: only where Ruby cannot end the expression (after an operator, inside brackets). */
  blank(): void {
    while (SPACE.has(this.s[this.pos] ?? '') || this.s[this.pos] === '\n') this.pos++;
  }

  protected spaceOrNewlineNext(): boolean {
    const c = this.s[this.pos] ?? '';
    return SPACE.has(c) || c === '\n';
  }

  protected at(text: string): boolean {
    return this.s.startsWith(text, this.pos);
  }

  protected eat(text: string): boolean {
    if (!this.at(text)) return false;
    this.pos += text.length;
    return true;
  }

  protected expect(text: string): void {
    if (!this.eat(text)) this.fail();
  }

  /** An identifier (letters, digits, _, any non-ASCII character, as in Ruby), or "" when none starts here. */
  word(): string {
    const from = this.pos;
    if (!IDENT_START.test(this.s[this.pos] ?? '')) return '';
    while (IDENT.test(this.s[this.pos] ?? '')) this.pos++;
    return this.s.slice(from, this.pos);
  }

  /** A single-quoted literal, from its opening quote. */
  protected singleQuoted(): string {
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.s[this.pos];
      if (c === undefined) this.fail();
      this.pos++;
      if (c === "'") return out;
      if (c === '\\' && (this.s[this.pos] === "'" || this.s[this.pos] === '\\')) out += this.s[this.pos++];
      else out += c;
    }
  }

  /**
   * A double-quoted literal, from its opening quote: its text and interpolations in order (never
   * empty). `interpolate` is called just after `#{` and reads up to and including the `}`.
   */
  protected doubleQuoted<T>(interpolate: () => T): (string | T)[] {
    this.pos++;
    const parts: (string | T)[] = [];
    let text = '';
    for (;;) {
      const c = this.s[this.pos];
      if (c === undefined) this.fail();
      this.pos++;
      if (c === '"') break;
      if (c === '\\') text += this.escape();
      else if (c === '#' && (this.at('@') || this.at('$')))
        this.fail(); // "#@var", "#$var"
      else if (c === '#' && this.eat('{')) {
        if (text) parts.push(text);
        text = '';
        parts.push(interpolate());
      } else text += c;
    }
    if (text || parts.length === 0) parts.push(text);
    return parts;
  }

  /** A double-quoted escape, after the backslash. Bytes above 0x7F (`\xff`) and \c, \C-, \M- are refused. */
  private escape(): string {
    const c = this.s[this.pos];
    if (c === undefined || c === '\r' || c === 'c' || c === 'C' || c === 'M') this.fail();
    this.pos++;
    if (c === '\n') return ''; // a line continuation
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) return simple;
    if (c >= '0' && c <= '7') return this.byte(`${c}${this.run(/[0-7]/, 2)}`, 8);
    if (c === 'x') return this.byte(this.run(HEX, 2), 16);
    if (c === 'u') {
      let hex: string;
      if (this.eat('{')) {
        hex = this.run(HEX, 6);
        if (hex === '' || !this.eat('}')) this.fail(); // (several code points, "\u{41 42}", are refused)
      } else if ((hex = this.run(HEX, 4)).length !== 4) this.fail();
      const code = Number.parseInt(hex, 16);
      if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) this.fail();
      return String.fromCodePoint(code);
    }
    // Any other character stands for itself ("\q" is "q"); take a whole code point.
    const cp = this.s.codePointAt(this.pos - 1)!;
    if (cp > 0xffff) this.pos++;
    return String.fromCodePoint(cp);
  }

  /** Up to `max` characters matching `re`. */
  private run(re: RegExp, max: number): string {
    const from = this.pos;
    while (this.pos - from < max && re.test(this.s[this.pos] ?? '')) this.pos++;
    return this.s.slice(from, this.pos);
  }

  private byte(digits: string, radix: number): string {
    if (digits === '') this.fail();
    const code = Number.parseInt(digits, radix);
    if (code > 0x7f) this.fail(); // a raw byte: not UTF-8 text
    return String.fromCharCode(code);
  }
}
