/**
 * Checks that span several keys, run on the raw document whether or not the schema accepted it, so
 * that every problem is reported in one go: unique rule names, rules that require nothing, signer
 * counts, keyless identities, and key files that must exist beside the policy.
 */
import { resolve } from 'node:path';
import type { RawProblem } from './issues.js';
import { GROUPS } from './types.js';
import type { KeyPath } from './yaml.js';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export interface SemanticsOptions {
  /** The folder key paths are relative to (the policy file's). */
  dir: string;
  exists: (absolutePath: string) => boolean;
}

export function semanticProblems(data: unknown, opts: SemanticsOptions): RawProblem[] {
  const out: RawProblem[] = [];
  const doc = obj(data);
  if (!doc) return out;
  const defaults = obj(doc['defaults']);
  if (defaults) groupProblems(defaults, ['defaults'], opts, out);
  const seen = new Map<string, number>();
  arr(doc['rules']).forEach((r, i) => {
    const rule = obj(r);
    if (!rule) return;
    const name = rule['name'];
    if (typeof name === 'string') {
      const first = seen.get(name);
      if (first !== undefined) out.push({ path: ['rules', i, 'name'], message: `rule name "${name}" is already used by rules[${first}]` });
      else seen.set(name, i);
    }
    if (!GROUPS.some((g) => g in rule)) {
      out.push({ path: ['rules', i], message: `the rule requires nothing: give it at least one of ${GROUPS.join(', ')}` });
    }
    groupProblems(rule, ['rules', i], opts, out);
  });
  return out;
}

function active(group: Obj): boolean {
  return group['mode'] !== 'off';
}

function groupProblems(groups: Obj, at: KeyPath, opts: SemanticsOptions, out: RawProblem[]): void {
  const cp = obj(obj(groups['ledger'])?.['checkpoint']);
  if (cp) {
    const here = [...at, 'ledger', 'checkpoint'];
    const keys = arr(cp['keys']);
    const keyless = arr(cp['keyless']);
    keys.forEach((k, i) => keyFile(k, [...here, 'keys', i], opts, out));
    keyless.forEach((k, i) => identityProblems(obj(k), [...here, 'keyless', i], out, { github: false }));
    if (keys.length + keyless.length === 0) out.push({ path: here, message: 'name at least one signer of the ledger head under keys or keyless', at: 'key' });
  }
  const sig = obj(groups['signatures']);
  if (sig) {
    const here = [...at, 'signatures'];
    const keys = arr(sig['keys']);
    const keyless = arr(sig['keyless']);
    keys.forEach((k, i) => keyFile(k, [...here, 'keys', i], opts, out));
    keyless.forEach((k, i) => identityProblems(obj(k), [...here, 'keyless', i], out));
    const signers = keys.length + keyless.length;
    if (active(sig) && signers === 0) out.push({ path: here, message: 'name at least one signer under keys or keyless (or set mode: off)', at: 'key' });
    const count = sig['count'];
    if (typeof count === 'number' && signers > 0 && count > signers) {
      out.push({ path: [...here, 'count'], message: `count is ${count} but only ${signers} signer${signers === 1 ? ' is' : 's are'} listed` });
    }
    if (sig['allowedReferences'] !== undefined && sig['reference'] !== 'match') {
      out.push({ path: [...here, 'allowedReferences'], message: 'allowedReferences applies only with reference: match (add it, or drop allowedReferences)', at: 'key' });
    }
  }
  const att = obj(groups['attestations']);
  if (att) {
    const here = [...at, 'attestations'];
    if (active(att) && att['require'] === undefined) out.push({ path: here, message: 'list the attestations under require (or set mode: off)', at: 'key' });
    arr(att['require']).forEach((a, i) => {
      const signedBy = obj(obj(a)?.['signedBy']);
      if (!signedBy) return;
      const p = [...here, 'require', i, 'signedBy'];
      if (signedBy['key'] !== undefined) {
        keyFile(signedBy['key'], [...p, 'key'], opts, out);
        if (['identity', 'identityRegexp', 'issuer', 'issuerRegexp', 'github'].some((k) => k in signedBy)) {
          out.push({ path: p, message: 'give either a key or a keyless identity and issuer, not both', at: 'key' });
        }
      } else identityProblems(signedBy, p, out);
    });
  }
  const platforms = obj(groups['platforms']);
  if (platforms && active(platforms) && platforms['require'] === undefined) {
    out.push({ path: [...at, 'platforms'], message: 'list the platforms under require, or write require: builder (or set mode: off)', at: 'key' });
  }
}

/**
 * One of identity/identityRegexp and of issuer/issuerRegexp. With `github` (not for ledger checkpoints), GitHub claims
 * that say whose workflow signed (owner, repository, signerRepository, signerWorkflow) stand in for both, as in
 * `gh attestation verify`; and, as there, identity, identityRegexp, signerRepository and signerWorkflow exclude each other.
 */
function identityProblems(signer: Obj | undefined, at: KeyPath, out: RawProblem[], opts: { github: boolean } = { github: true }): void {
  if (!signer) return;
  const gh = opts.github ? obj(signer['github']) : undefined;
  const scoped = !!gh && ['owner', 'repository', 'signerRepository', 'signerWorkflow'].some((k) => gh[k] !== undefined);
  for (const [exact, re] of [
    ['identity', 'identityRegexp'],
    ['issuer', 'issuerRegexp'],
  ] as const) {
    const n = Number(exact in signer) + Number(re in signer);
    if (n === 0 && !scoped) out.push({ path: at, message: `give ${exact} or ${re}` });
    if (n === 2) out.push({ path: [...at, re], message: `give ${exact} or ${re}, not both`, at: 'key' });
  }
  const signers = gh ? (['signerRepository', 'signerWorkflow'] as const).filter((k) => gh[k] !== undefined) : [];
  const named = [...(['identity', 'identityRegexp'] as const).filter((k) => k in signer).slice(0, 1), ...signers.map((k) => `github.${k}`)];
  if (named.length > 1) {
    const last = signers[signers.length - 1]!;
    out.push({
      path: [...at, 'github', last],
      message: `give only one of identity, identityRegexp, github.signerRepository and github.signerWorkflow (each says who signed): ${named.join(' and ')} are both given`,
      at: 'key',
    });
  }
}

function keyFile(path: unknown, at: KeyPath, opts: SemanticsOptions, out: RawProblem[]): void {
  if (typeof path !== 'string' || path === '') return;
  const full = resolve(opts.dir, path);
  if (!opts.exists(full)) out.push({ path: at, message: `key file ${path} does not exist (looked for ${full}; paths are relative to the policy file)` });
}
