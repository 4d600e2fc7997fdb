/**
 * A validated policy document → Policy: defaults filled in, durations parsed, references
 * normalized, key paths resolved, and every rule, group and exception tied to its place in the file.
 */
import { resolve } from 'node:path';
import { formatReference, parseReference, repositoryName } from '../registry/reference.js';
import { GITHUB } from '../signatures/constants.js';
import type { SourceLocation } from '../types.js';
import { parseDuration } from './duration.js';
import type { PolicyDocument } from './schema.js';
import { GROUPS, type Group, type GroupSettings, type KeyFile, type KeylessIdentity, type Policy, type Requirements } from './types.js';
import { locate, type KeyPath, type PolicyTree } from './yaml.js';

/** The requirement groups as written (in defaults or a rule). */
type GroupsDoc = NonNullable<PolicyDocument['defaults']>;

/** Predicate types each attestation name stands for. */
export const PREDICATE_TYPES: Record<string, string[]> = {
  'slsa-provenance': ['https://slsa.dev/provenance/v0.2', 'https://slsa.dev/provenance/v1'],
  spdx: ['https://spdx.dev/Document'],
  cyclonedx: ['https://cyclonedx.org/bom'],
};

export function compilePolicy(doc: PolicyDocument, tree: PolicyTree, dir: string): Policy {
  const where = (path: KeyPath, at: 'key' | 'value' = 'value'): SourceLocation => ({ file: tree.file, ...(locate(tree, path, at) ?? { line: 1, column: 1 }) });
  const key = (path: string): KeyFile => ({ path, resolved: resolve(dir, path) });

  function groups(g: GroupsDoc | undefined, rule: string, at: KeyPath): GroupSettings {
    const out: GroupSettings = {};
    if (!g) return out;
    for (const name of GROUPS) {
      if (g[name] === undefined) continue;
      const origin = { rule, source: where([...at, name], 'key') };
      // The per-group compile is typed by name; the cast ties each to its own Setting type.
      (out as Record<Group, unknown>)[name] = { value: compileGroup(name, g, key), origin };
    }
    return out;
  }

  return {
    file: tree.file,
    version: 1,
    defaults: groups(doc.defaults, 'defaults', ['defaults']),
    rules: (doc.rules ?? []).map((r, i) => ({
      name: r.name,
      ...(r.description !== undefined ? { description: r.description } : {}),
      source: where(['rules', i]),
      match: { ...(r.match?.images ? { images: r.match.images } : {}), ...(r.match?.roles ? { roles: r.match.roles } : {}) },
      groups: groups(r, r.name, ['rules', i]),
    })),
    exceptions: (doc.exceptions ?? []).map((e, i) => ({
      images: e.images,
      rules: e.rules,
      reason: e.reason,
      expires: e.expires,
      source: where(['exceptions', i]),
    })),
  };
}

/**
 * A keyless signer named by GitHub claims (owner, repository, signerRepository or signerWorkflow) without an issuer
 * gets GitHub's, as with `gh attestation verify`; a signer workflow written after github.com/ loses that prefix.
 * Its identity, when not given, is checked against those claims (signatures/identity.ts).
 */
function withGithubDefaults(id: KeylessIdentity): KeylessIdentity {
  const gh = id.github;
  if (!gh) return id;
  const github = gh.signerWorkflow?.startsWith('github.com/') ? { ...gh, signerWorkflow: gh.signerWorkflow.slice('github.com/'.length) } : gh;
  const scoped = [gh.owner, gh.repository, gh.signerRepository, gh.signerWorkflow].some((v) => v !== undefined);
  const issuer = scoped && id.issuer === undefined && id.issuerRegexp === undefined ? { issuer: GITHUB.issuer } : {};
  return { ...id, ...issuer, github };
}

function signer({ key: path, ...identity }: { key?: string | undefined } & KeylessIdentity, key: (p: string) => KeyFile): KeylessIdentity & { key?: KeyFile } {
  return path ? { ...identity, key: key(path) } : withGithubDefaults(identity);
}

function compileGroup(name: Group, g: GroupsDoc, key: (p: string) => KeyFile): Requirements[Group] {
  switch (name) {
    case 'ledger': {
      const v = g.ledger!;
      return { mode: v.mode, trust: v.trust, ...(v.checkpoint ? { checkpoint: { keys: (v.checkpoint.keys ?? []).map(key), keyless: v.checkpoint.keyless ?? [] } } : {}) };
    }
    case 'signatures': {
      const v = g.signatures!;
      return {
        mode: v.mode,
        count: v.count,
        keys: (v.keys ?? []).map(key),
        keyless: (v.keyless ?? []).map(withGithubDefaults),
        tlog: v.tlog,
        ...(v.repository ? { repository: repositoryName(parseReference(v.repository)) } : {}),
        reference: v.reference,
        ...(v.allowedReferences ? { allowedReferences: v.allowedReferences } : {}),
      };
    }
    case 'attestations': {
      const v = g.attestations!;
      return {
        mode: v.mode,
        require: (v.require ?? []).map(({ signedBy, ...a }) => ({
          ...a,
          predicateTypes: PREDICATE_TYPES[a.type] ?? [a.type],
          ...(signedBy ? { signedBy: signer(signedBy, key) } : {}),
        })),
      };
    }
    case 'base': {
      const v = g.base!;
      return {
        mode: v.mode,
        ...(v.maxAge ? { maxAge: parseDuration(v.maxAge) } : {}),
        ...(v.maxStaleness ? { maxStaleness: parseDuration(v.maxStaleness) } : {}),
        ...(v.allowed ? { allowed: v.allowed } : {}),
        candidates: (v.candidates ?? []).map((c) => formatReference(parseReference(c))),
        unknown: v.unknown ?? (v.mode === 'off' ? 'ignore' : v.mode),
      };
    }
    case 'image': {
      const v = g.image!;
      return { mode: v.mode, ...(v.maxAge ? { maxAge: parseDuration(v.maxAge) } : {}) };
    }
    case 'tags': {
      const v = g.tags!;
      return { mode: v.mode, immutable: v.immutable, forbid: v.forbid ?? [], requireDigest: v.requireDigest };
    }
    case 'platforms': {
      const v = g.platforms!;
      return { mode: v.mode, require: v.require ?? [] };
    }
    case 'config': {
      const v = g.config!;
      return { mode: v.mode, ignore: v.ignore ?? [] };
    }
  }
}
