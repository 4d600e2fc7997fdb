/**
 * The Ruby that kamal-gate accepts inside `<%= %>`: ENV lookups and string literals. This is a
 * parser, not an evaluator: anything it does not recognise is refused, and `describeRuby`
 * (erb-describe.ts) says in general terms what the code holds, so the error can tell the user.
 */

export type SafeExpr =
  | { kind: 'literal'; value: string }
  /** `ENV["X"]` (nil renders as ""), `ENV.fetch("X")` (missing is an error), `ENV.fetch("X", default)`. */
  | { kind: 'env'; name: string; fetch: boolean; fallback?: string };

/** Parses `code` (the inside of an output tag) as one safe expression, or returns undefined. */
export function parseSafeExpr(code: string): SafeExpr | undefined {
  const s = code.trim();
  if (s === '') return { kind: 'literal', value: '' };
  const p = new Cursor(s);

  const literal = p.string();
  if (literal !== undefined) return p.done() ? { kind: 'literal', value: literal } : undefined;

  if (!p.eat(/ENV\s*/y)) return undefined;
  if (p.eat(/\[\s*/y)) {
    const name = p.string();
    if (name === undefined || !p.eat(/\s*\]/y) || !p.done()) return undefined;
    return { kind: 'env', name, fetch: false };
  }
  if (!p.eat(/\.\s*fetch\s*\(\s*/y)) return undefined;
  const name = p.string();
  if (name === undefined) return undefined;
  let fallback: string | undefined;
  if (p.eat(/\s*,\s*/y)) {
    fallback = p.eat(/nil\b/y) ? '' : p.string();
    if (fallback === undefined) return undefined;
  }
  if (!p.eat(/\s*\)/y) || !p.done()) return undefined;
  return fallback === undefined ? { kind: 'env', name, fetch: true } : { kind: 'env', name, fetch: true, fallback };
}

const DOUBLE_QUOTE_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  s: ' ',
  '0': '\0',
  e: '\x1b',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
  '#': '#',
};

class Cursor {
  private pos = 0;
  constructor(private readonly s: string) {}

  done(): boolean {
    return this.pos === this.s.length;
  }

  eat(re: RegExp): boolean {
    re.lastIndex = this.pos;
    const m = re.exec(this.s);
    if (!m) return false;
    this.pos += m[0].length;
    return true;
  }

  /** A Ruby string literal without interpolation; undefined if there is none here. */
  string(): string | undefined {
    const quote = this.s[this.pos];
    if (quote !== '"' && quote !== "'") return undefined;
    let out = '';
    for (let i = this.pos + 1; i < this.s.length; i++) {
      const c = this.s[i]!;
      if (c === quote) {
        this.pos = i + 1;
        return out;
      }
      if (c === '\\') {
        const next = this.s[++i];
        if (next === undefined) return undefined;
        if (quote === "'") out += next === "'" || next === '\\' ? next : `\\${next}`;
        else {
          const esc = DOUBLE_QUOTE_ESCAPES[next];
          if (esc === undefined) return undefined; // \u, \x, octal…: not worth evaluating
          out += esc;
        }
        continue;
      }
      if (quote === '"' && c === '#' && /[{@$]/.test(this.s[i + 1] ?? '')) return undefined; // interpolation
      out += c;
    }
    return undefined;
  }
}
