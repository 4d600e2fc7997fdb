/**
 * `WWW-Authenticate` parsing per RFC 7235: one header may hold several challenges
 * (`Basic realm="quay.io", Bearer realm="…",service="…"`), scheme names are case-insensitive,
 * parameter values are tokens or quoted strings with backslash escapes.
 */
export interface Challenge {
  /** Lower-cased scheme: `basic`, `bearer`, … */
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  let s = header;
  let current: Challenge | undefined;

  const skipWs = () => {
    s = s.replace(/^[ \t]+/, '');
  };

  while (s.length > 0) {
    skipWs();
    if (s.startsWith(',')) {
      s = s.slice(1);
      continue;
    }
    const tok = TOKEN.exec(s);
    if (!tok) break; // garbage: stop, keep what parsed
    const word = tok[0];
    const after = s.slice(word.length);
    const eq = /^[ \t]*=(?!=)/.exec(after);
    if (eq && current) {
      // auth-param
      s = after.slice(eq[0].length);
      skipWs();
      let value = '';
      if (s.startsWith('"')) {
        let i = 1;
        for (; i < s.length && s[i] !== '"'; i++) {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
        }
        s = s.slice(i + 1);
      } else {
        const v = TOKEN.exec(s);
        value = v ? v[0] : '';
        s = s.slice(value.length);
      }
      current.params[word.toLowerCase()] = value;
      continue;
    }
    if (eq && !current) break;
    // a new challenge
    current = { scheme: word.toLowerCase(), params: {} };
    out.push(current);
    s = after;
    skipWs();
    // token68 form (e.g. `Negotiate abc==`): a token followed by '='s and then end or ','
    const t68 = /^[A-Za-z0-9._~+/-]+=*(?=[ \t]*(,|$))/.exec(s);
    if (t68 && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]*=[^=]/.test(s)) {
      current.params['token68'] = t68[0];
      s = s.slice(t68[0].length);
    }
  }
  return out;
}
