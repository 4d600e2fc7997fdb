import { describe, expect, it } from 'vitest';
import { parseDotenv } from '../../src/kamal/index.js';
import { configError } from './helpers.js';

const parse = (text: string, env: Record<string, string | undefined> = {}) => parseDotenv(text, '.kamal/secrets', env);
const values = (text: string, env: Record<string, string | undefined> = {}) => Object.fromEntries([...parse(text, env)].map(([k, e]) => [k, e.value ?? `<${e.unresolved}>`]));

describe('parseDotenv (Ruby dotenv 3.2 as Kamal reads secrets)', () => {
  it('reads KEY=value, export, comments, blank lines and the YAML-style separator', () => {
    const text = '# comment\n\nA=1\nexport B=two\n  C = three  \nD: four\nE=\n';
    expect(values(text)).toEqual({ A: '1', B: 'two', C: 'three', D: 'four', E: '' });
  });

  it('records the line of each key', () => {
    const entries = parse('# c\nA=1\n\nB="multi\nline"\nC=3\n');
    expect(entries.get('A')).toMatchObject({ line: 2, file: '.kamal/secrets' });
    expect(entries.get('B')).toMatchObject({ line: 4, value: 'multi\nline' });
    expect(entries.get('C')).toMatchObject({ line: 6 });
  });

  it('keeps single-quoted values literal', () => {
    expect(values("A='$HOME \\n #not-a-comment $(id)'", { HOME: '/root' })).toEqual({ A: '$HOME \\n #not-a-comment $(id)' });
  });

  it('expands and unescapes double-quoted values; \\n stays escaped unless DOTENV_LINEBREAK_MODE=legacy', () => {
    expect(values('A="say \\"hi\\" to $USER # not a comment"', { USER: 'ann' })).toEqual({ A: 'say "hi" to ann # not a comment' });
    expect(values('A="x\\ny"')).toEqual({ A: 'x\\ny' });
    expect(values('DOTENV_LINEBREAK_MODE=legacy\nA="x\\ny"').A).toBe('x\ny');
  });

  it('cuts unquoted values at # and expands them', () => {
    expect(values('A=pass#word\nB=${A}-x # trailing\nC=\\$A')).toEqual({ A: 'pass', B: 'pass-x', C: '$A' });
  });

  it('expands $VAR from earlier lines first, then the environment, missing ones to ""', () => {
    const entries = parse('TOKEN=$KAMAL_REGISTRY_PASSWORD\nA=file\nB=$A/$ENVONLY/$NOWHERE', { A: 'env', ENVONLY: 'e', KAMAL_REGISTRY_PASSWORD: 'tok' });
    expect(entries.get('TOKEN')?.value).toBe('tok');
    expect(entries.get('B')).toMatchObject({ value: 'file/e/', missing: ['NOWHERE'] });
  });

  it('never runs $(...): the value is unresolved, "needs command substitution"', () => {
    const entries = parse('A=$(op read op://vault/item/password)\nB="x$(cat key)"\nC=$(kamal secrets extract X $SECRETS)\nD=$A-suffix');
    for (const key of ['A', 'B', 'C', 'D']) {
      expect(entries.get(key)).toMatchObject({ unresolved: 'needs command substitution' });
      expect(entries.get(key)?.value).toBeUndefined();
    }
  });

  it('handles nested parentheses, escaped \\$(...) and $() as Kamal does', () => {
    expect(parse('A=$(echo $(id))').get('A')?.unresolved).toBe('needs command substitution');
    expect(values('A=\\$(not run)\nB=$()\nC=$(unbalanced')).toEqual({ A: '$(not run)', B: '$()', C: '$(unbalanced' });
  });

  it('lets later lines win', () => {
    expect(values('A=1\nA=2')).toEqual({ A: '2' });
  });

  it('accepts "export KEY" for a key set earlier and refuses it otherwise, with file and line', async () => {
    expect(values('A=1\nexport A')).toEqual({ A: '1' });
    const e = await configError(() => parse('A=1\nexport B\n'));
    expect(e.file).toBe('.kamal/secrets');
    expect(e.line).toBe(2);
  });

  it('refuses a malformed line with file and line, without echoing it', async () => {
    const e = await configError(() => parse('A=1\n\nnot a valid line hunter2-secret\n'));
    expect(e.file).toBe('.kamal/secrets');
    expect(e.line).toBe(3);
    expect(e.message).toBe('.kamal/secrets:3: this line is not KEY=value (dotenv format)');
  });

  it('accepts CRLF line endings', () => {
    expect(values('A=1\r\nB=2\r\n')).toEqual({ A: '1', B: '2' });
  });
});
