/**
 * `ledger.checkpoint`: for each image whose policy names checkpoint signers, the seq up to which the
 * ledger's approvals count (the newest checkpoint's, when one of those signers signed it), or a
 * failing finding and no approvals at all when none did. Each set of signers is verified once a run.
 */
import type { Ledger } from '../ledger/types.js';
import type { LedgerRequirement } from '../policy/types.js';
import { loadPublicKey } from '../signatures/signers.js';
import type { TargetResult } from '../types.js';
import type { CheckContext, CheckpointVerdict, TargetCheck } from './types.js';

type Checkpoint = NonNullable<LedgerRequirement['checkpoint']>;

/** The checkpoint signers this target's ledger approvals need, when its policy names any. */
function checkpointOf(r: TargetResult, ctx: CheckContext): Checkpoint | undefined {
  const req = ctx.requirements?.groups.ledger.value;
  if (!ctx.ledger || !req?.checkpoint || req.mode === 'off' || r.target.aliasOf) return undefined;
  return req.checkpoint;
}

function verdict(ledger: Ledger, cp: Checkpoint, ctx: CheckContext): Promise<CheckpointVerdict> {
  const key = JSON.stringify(cp);
  let v = ctx.checkpoints.get(key);
  if (!v) {
    v = (async () => {
      const { headOf, trustedSeq } = await import('../ledger/head.js');
      const keys = await Promise.all(cp.keys.map(async (k) => ({ source: k.path, key: await loadPublicKey(k) })));
      const identities = cp.keyless.map((k) => ({
        ...(k.identity ? { subject: k.identity } : {}),
        ...(k.identityRegexp ? { subjectRegExp: k.identityRegexp } : {}),
        ...(k.issuer ? { issuer: k.issuer } : {}),
        ...(k.issuerRegexp ? { issuerRegExp: k.issuerRegexp } : {}),
      }));
      return trustedSeq(headOf(ledger), { ...(keys.length ? { keys } : {}), ...(identities.length ? { identities } : {}), ...(ctx.checkpointRoot ? { trustedRoot: ctx.checkpointRoot } : {}) });
    })();
    ctx.checkpoints.set(key, v);
  }
  return v;
}

/** The seq up to which this target's approvals count: the vouching checkpoint's, 0 when none vouches, undefined when the policy asks for none. */
export async function approvalsUpTo(r: TargetResult, ctx: CheckContext): Promise<number | undefined> {
  const cp = checkpointOf(r, ctx);
  if (!cp) return undefined;
  const v = await verdict(ctx.ledger!, cp, ctx);
  return 'seq' in v ? v.seq : 0;
}

export const checkpointCheck: TargetCheck = {
  name: 'ledger checkpoint',
  on: 'target',
  async run(r, ctx) {
    const cp = checkpointOf(r, ctx);
    if (!cp) return { findings: [] };
    const ledger = ctx.ledger!;
    const v = await verdict(ledger, cp, ctx);
    if ('seq' in v) return { findings: [] };
    return {
      findings: [
        {
          target: r.target,
          ...(r.image ? { digest: r.image.digest } : {}),
          rule: 'ledger.checkpoint',
          severity: 'high',
          message: `the digest ledger ${ledger.location} is not vouched for: ${v.reason}; no approval in it counts for ${r.target.ref}`,
          remedy: 'sign the ledger head in the pipeline with a signer the policy names: `kamal-gate record --checkpoint-key KEY` (or --checkpoint-keyless), or `kamal-gate ledger checkpoint`',
          evidence: { ledger: ledger.location, reason: v.reason },
        },
      ],
    };
  },
};
