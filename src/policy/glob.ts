/**
 * Globs in policies. Image globs match the NORMALIZED name (`docker.io/library/redis`, never
 * `redis`): `*` matches any characters except `/` (so within one path segment), `**` matches any
 * characters including `/`, `?` one character except `/`. Everything else matches itself. No
 * character classes or braces. In tag and rule-id globs `*` matches any characters.
 *
 * Kinds:
 *  - `repository`: `registry/repository` (rules' match.images, base.allowed);
 *  - `reference`: a repository glob, optionally followed by `:` and a tag glob (exceptions.images);
 *  - `tag`: a tag glob (tags.forbid);
 *  - `rule`: a finding rule id glob (exceptions.rules): `base.*`, `tag.overwritten`.
 */
import { RULE_PREFIXES } from './rules.js';

export type GlobKind = 'repository' | 'reference' | 'tag' | 'rule';

const cache = new Map<string, RegExp>();

function toRegExp(pattern: string, segmentAware: boolean): RegExp {
  const key = `${segmentAware ? 's' : 'a'}${pattern}`;
  let re = cache.get(key);
  if (!re) {
    let src = '';
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i]!;
      if (c === '*' && pattern[i + 1] === '*') {
        src += '.*';
        i++;
      } else if (c === '*') src += segmentAware ? '[^/]*' : '.*';
      else if (c === '?') src += segmentAware ? '[^/]' : '.';
      else src += c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
    }
    re = new RegExp(`^${src}$`);
    cache.set(key, re);
  }
  return re;
}

/** Splits `registry/repo:tag` at the `:` after the last `/` (a `:` before it is a port). */
function splitTag(s: string): [string, string | undefined] {
  const colon = s.indexOf(':', s.lastIndexOf('/') + 1);
  return colon === -1 ? [s, undefined] : [s.slice(0, colon), s.slice(colon + 1)];
}

/**
 * Whether `subject` matches `pattern`. For `reference` globs the subject is `registry/repository`
 * plus `:tag` when the image has one; a glob with a tag part never matches an image without a tag.
 */
export function globMatch(kind: GlobKind, pattern: string, subject: string): boolean {
  if (kind === 'tag' || kind === 'rule') return toRegExp(pattern, false).test(subject);
  if (kind === 'repository') return toRegExp(pattern, true).test(subject);
  const [repoGlob, tagGlob] = splitTag(pattern);
  const [repo, tag] = splitTag(subject);
  if (!toRegExp(repoGlob, true).test(repo)) return false;
  if (tagGlob === undefined) return true;
  return tag !== undefined && toRegExp(tagGlob, false).test(tag);
}

/** Why a glob is not valid, or undefined when it is. */
export function globProblem(kind: GlobKind, pattern: string): string | undefined {
  if (pattern.length === 0) return 'empty pattern';
  if (/\s/.test(pattern)) return 'a pattern may not contain white space';
  if (pattern.includes('***')) return '"***" means nothing: use * (within a path segment) or ** (across segments)';
  switch (kind) {
    case 'tag':
      return /^[A-Za-z0-9_.*?-]+$/.test(pattern) ? undefined : 'a tag pattern may contain only letters, digits, "_", ".", "-", "*" and "?"';
    case 'rule':
      return ruleProblem(pattern);
    case 'repository':
      return repositoryProblem(pattern, false);
    case 'reference':
      return repositoryProblem(pattern, true);
  }
}

function ruleProblem(pattern: string): string | undefined {
  if (!/^[a-z0-9_.*?]+$/.test(pattern)) return 'a rule id pattern may contain only lowercase letters, digits, "_", ".", "*" and "?" (e.g. base.too_old, base.*)';
  const prefix = pattern.split('.')[0]!;
  if (/[*?]/.test(prefix) || RULE_PREFIXES.includes(prefix)) return undefined;
  return `no finding rule id starts with "${prefix}." (rule ids start with ${RULE_PREFIXES.join('., ')}.)`;
}

function repositoryProblem(pattern: string, tagAllowed: boolean): string | undefined {
  if (pattern.includes('@')) return 'digests cannot be matched by a pattern: name the repository (and tag)';
  const [repo, tag] = splitTag(pattern);
  if (tag !== undefined) {
    if (!tagAllowed) {
      return 'this pattern names a tag, but rules match the repository (registry/name) only: forbid tags with tags.forbid, or waive one tag with an exception';
    }
    const p = globProblem('tag', tag);
    if (p) return p;
  }
  if (repo !== repo.toLowerCase()) return 'image names are lowercase';
  if (!/^[a-z0-9._:*?/-]+$/.test(repo)) return 'an image pattern may contain only lowercase letters, digits, ".", "_", "-", ":" (port), "/", "*" and "?"';
  if (repo.startsWith('/') || repo.endsWith('/') || repo.includes('//')) return 'empty path segment';
  if (
    repo
      .split('/')
      .slice(1)
      .some((seg) => seg.includes(':'))
  )
    return '":" may appear only in the registry (host:port), or before the tag';
  if (repo === '*') return '"*" does not match across "/": use ** to match every image';
  const first = repo.split('/')[0]!;
  const isRegistry = first.includes('.') || first.includes(':') || first === 'localhost' || /[*?]/.test(first);
  if (!isRegistry || (!repo.includes('/') && !repo.includes('**'))) {
    const fix = repo.includes('/') ? `docker.io/${pattern}` : `docker.io/library/${pattern}`;
    return `names no registry: images are matched by their normalized name, e.g. ${fix}`;
  }
  return undefined;
}
