/** Every candidate tried against every configured signer: who validly signed, and how the rest failed. */
import { coveredDigests } from './coverage.js';
import type { Candidate } from './types.js';
import type { SignerSpec } from './signers.js';
import { FAILURE_RANK, verifyCandidate, type Outcome, type VerifyContext } from './verify.js';

export interface Tried {
  candidate: Candidate;
  /** The passing outcome, or the failure that came closest to passing. */
  outcome: Outcome;
}

export interface Evaluation {
  /** Signers with at least one valid signature, by spec id. */
  valid: Map<string, Tried>;
  tried: Tried[];
  /** For each deployed digest, the signers (spec ids) with a valid signature on it (coverage.ts). */
  signedBy: Map<string, Set<string>>;
}

export function evaluate(candidates: Candidate[], specs: SignerSpec[], ctx: VerifyContext): Evaluation {
  const valid = new Map<string, Tried>();
  const tried: Tried[] = [];
  const signedBy = new Map<string, Set<string>>();
  for (const candidate of candidates) {
    let best: Outcome | undefined;
    for (const spec of specs) {
      const outcome = verifyCandidate(candidate, spec, ctx);
      if (outcome.ok) {
        if (!valid.has(spec.id)) valid.set(spec.id, { candidate, outcome });
        for (const d of coveredDigests(outcome, ctx.digests)) signedBy.set(d, (signedBy.get(d) ?? new Set()).add(spec.id));
        best = outcome;
      } else if (!best || (!best.ok && FAILURE_RANK[outcome.failure] > FAILURE_RANK[best.failure])) {
        best = outcome;
      }
    }
    tried.push({ candidate, outcome: best ?? { ok: false, failure: 'untrusted_key', reason: 'the policy lists no signer' } });
  }
  return { valid, tried, signedBy };
}
