/**
 * The difference between two effective deploys (effective.ts), setting by setting: a path for each
 * setting that was added, removed or changed (`servers.web.cmd`), with its value before and after.
 * Mappings are compared key by key (key order never matters); lists and scalars as a whole.
 */
import { canonicalJson } from '../ledger/hash.js';

/** One changed setting: `from` absent when it was added, `to` absent when it was removed. */
export interface DeployChange {
  path: string;
  from?: unknown;
  to?: unknown;
}

/** Every setting that differs between `a` and `b`, in path order. */
export function diffDeploys(a: unknown, b: unknown): DeployChange[] {
  const out: DeployChange[] = [];
  walk(a, b, '', out);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function walk(a: unknown, b: unknown, path: string, out: DeployChange[]): void {
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) walk(a[key], b[key], path === '' ? key : `${path}.${key}`, out);
    return;
  }
  if (a === undefined && b === undefined) return;
  if (a !== undefined && b !== undefined && canonicalJson(a) === canonicalJson(b)) return;
  out.push({ path, ...(a !== undefined ? { from: a } : {}), ...(b !== undefined ? { to: b } : {}) });
}
