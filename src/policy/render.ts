/** Text for people: `policy check`'s summary and `policy explain`'s account of one image. */
import type { SourceLocation } from '../types.js';
import { isExpired } from './duration.js';
import { GROUPS, type EffectiveRequirements, type ExceptionStatus, type Group, type KeylessIdentity, type Origin, type Policy, type Requirements } from './types.js';

function at(s: SourceLocation | undefined): string {
  return s ? `${s.file}:${s.line}${s.column ? `:${s.column}` : ''}` : '';
}

function signer(k: KeylessIdentity): string {
  const gh = k.github;
  const scope = gh?.signerRepository ?? gh?.repository ?? gh?.owner;
  const byGithub = gh?.signerWorkflow !== undefined ? `workflow github.com/${gh.signerWorkflow}` : scope !== undefined ? `any workflow of github.com/${scope}` : undefined;
  const who = k.identity ?? (k.identityRegexp !== undefined || byGithub === undefined ? `/${k.identityRegexp ?? ''}/` : byGithub);
  const issuer = k.issuer ?? `/${k.issuerRegexp ?? ''}/`;
  const claims = gh
    ? ` (${Object.entries(gh)
        .map(([n, v]) => `${n} ${v}`)
        .join(', ')})`
    : '';
  return `keyless ${who} from ${issuer}${claims}`;
}

/**
 * The tags group: a moved tag's verdict comes from `immutable`, not from the group's mode (which
 * governs `forbid` and `requireDigest` only), so each part says which of the two decides it.
 */
function describeTags(t: Requirements['tags']): string {
  const moved = t.immutable ? 'a moved tag fails (immutable: true, whatever the mode)' : 'a moved tag only warns (immutable: false)';
  const checks = [t.forbid.length && `forbidden tags ${t.forbid.join(', ')}`, t.requireDigest && 'a ref not pinned by digest'].filter(Boolean).join(' and ');
  const verdict = t.mode === 'enforce' ? 'fail' : t.mode === 'warn' ? 'only warn (mode warn)' : 'are not checked (mode off)';
  return checks ? `${moved}; ${checks} ${verdict}` : `${moved}; nothing else checked`;
}

/** One line saying what a requirement group asks for. */
export function describeGroup<G extends Group>(group: G, value: Requirements[G]): string {
  const v = value as Requirements[Group];
  if (group === 'tags') return describeTags(v as Requirements['tags']);
  if (v.mode === 'off') return 'not checked (mode off)';
  switch (group) {
    case 'ledger': {
      const l = v as Requirements['ledger'];
      const trust = l.trust === 'tofu' ? 'trust on first use: a tag never seen is recorded' : 'strict: every tag must have been recorded by `kamal-gate record`';
      if (!l.checkpoint) return trust;
      const signers = [...l.checkpoint.keys.map((k) => `key ${k.path}`), ...l.checkpoint.keyless.map((k) => k.identity ?? k.identityRegexp ?? 'keyless')];
      return `${trust}; the ledger head must be checkpointed by ${signers.join(' or ')}`;
    }
    case 'signatures': {
      const s = v as Requirements['signatures'];
      const signers = [...s.keys.map((k) => `key ${k.path}`), ...s.keyless.map(signer)];
      const ref = s.reference === 'match' ? `; docker-reference must name the image's repository${s.allowedReferences ? ` or ${s.allowedReferences.join(', ')}` : ''}` : '';
      return `${s.count} of: ${signers.join('; ')}; transparency log ${s.tlog}${s.repository ? `; signatures in ${s.repository}` : ''}${ref}`;
    }
    case 'attestations':
      return (v as Requirements['attestations']).require
        .map((a) => {
          const extra = [
            a.builderId && `builder ${a.builderId}`,
            a.sourceRepository && `source ${a.sourceRepository}`,
            a.signedBy && `signed by ${a.signedBy.key ? `key ${a.signedBy.key.path}` : signer(a.signedBy)}`,
          ].filter(Boolean);
          return `${a.type}${extra.length ? ` (${extra.join(', ')})` : ''}`;
        })
        .join('; ');
    case 'base': {
      const b = v as Requirements['base'];
      const parts = [
        b.maxAge && `maxAge ${b.maxAge.text}`,
        b.maxStaleness && `maxStaleness ${b.maxStaleness.text}`,
        b.allowed && `allowed ${b.allowed.join(', ')}`,
        b.candidates.length && `candidates ${b.candidates.join(', ')}`,
      ].filter(Boolean);
      return [...parts, `unknown base: ${b.unknown}`].join('; ');
    }
    case 'image': {
      const i = v as Requirements['image'];
      return i.maxAge ? `maxAge ${i.maxAge.text}` : 'no age limit';
    }
    case 'platforms': {
      const p = (v as Requirements['platforms']).require;
      return p === 'builder' ? "require the platforms of Kamal's builder.arch" : `require ${p.join(', ')}`;
    }
    case 'config': {
      const c = v as Requirements['config'];
      return `lint the Kamal config${c.ignore.length ? `; ignore ${c.ignore.join(', ')}` : ''}`;
    }
  }
  return '';
}

function originText(o: Origin): string {
  if (o.rule === 'built-in') return 'built-in default';
  return `${o.rule === 'defaults' ? 'defaults' : `rule ${o.rule}`} at ${at(o.source)}`;
}

function table(rows: string[][]): string[] {
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  return rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd());
}

/** `roleSource`: where the role came from when not from --role (the Kamal config line). */
export function renderExplain(policyFile: string, eff: EffectiveRequirements, exceptions: ExceptionStatus[], roleSource?: string): string {
  const lines = [`Policy: ${policyFile}`, `Image:  ${eff.ref} (role ${eff.role}${roleSource ? `, ${roleSource}` : ''})`, ''];
  if (eff.rules.length === 0) lines.push('Rules: none (only defaults apply)');
  else {
    lines.push('Rules, in order (a later rule replaces a group an earlier one set):');
    lines.push(...table(eff.rules.map((r) => [r.applies ? 'applies' : 'skipped', r.rule, at(r.source), r.reasons.join('; ')])));
  }
  lines.push('', 'Requirements:');
  lines.push(
    ...table(
      GROUPS.map((g) => {
        const s = eff.groups[g];
        if (!s) return [g, '-', 'not required', ''];
        return [g, s.value.mode, describeGroup(g, s.value), `(${originText(s.origin)})`];
      }),
    ),
  );
  if (exceptions.length) {
    lines.push('', 'Exceptions naming this image:');
    lines.push(...table(exceptions.map(({ exception: e, expired }) => [expired ? `EXPIRED ${e.expires}` : `until ${e.expires}`, e.rules.join(', '), at(e.source), e.reason])));
  }
  return lines.join('\n') + '\n';
}

export function renderCheck(policy: Policy, now: Date): string {
  const lines = [`Policy ${policy.file} is valid.`];
  const defaults = GROUPS.filter((g) => policy.defaults[g]);
  lines.push(`  defaults: ${defaults.length ? defaults.join(', ') : 'none'}`);
  lines.push(`  ${policy.rules.length} rule${policy.rules.length === 1 ? '' : 's'}${policy.rules.length ? ':' : ''}`);
  for (const r of policy.rules) {
    const match = [r.match.images ? `images ${r.match.images.join(', ')}` : 'any image', r.match.roles ? `roles ${r.match.roles.join(', ')}` : 'any role'].join('; ');
    const groups = GROUPS.filter((g) => r.groups[g]).map((g) => `${g} ${r.groups[g]!.value.mode}`);
    lines.push(`    ${r.name} (line ${r.source.line}): ${match} -> ${groups.join(', ')}`);
  }
  const expired = policy.exceptions.filter((e) => isExpired(e.expires, now));
  lines.push(`  ${policy.exceptions.length} exception${policy.exceptions.length === 1 ? '' : 's'}${expired.length ? `, ${expired.length} expired` : ''}${policy.exceptions.length ? ':' : ''}`);
  for (const e of policy.exceptions) {
    const state = isExpired(e.expires, now) ? `EXPIRED on ${e.expires} (no longer applies)` : `until ${e.expires}`;
    lines.push(`    line ${e.source.line}: ${e.rules.join(', ')} on ${e.images.join(', ')} ${state}: ${e.reason}`);
  }
  return lines.join('\n') + '\n';
}
