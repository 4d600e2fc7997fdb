/**
 * What @sigstore/verify's errors mean for a user. The library raises a code and a terse message
 * (`TIMESTAMP_ERROR: expected 1 timestamps, got 0`); a finding says instead what was missing or
 * wrong and which policy setting or command-line flag governs it. The library's own words are kept
 * as `detail`, for the finding's evidence (debugging), never as the message alone.
 *
 * Codes (@sigstore/verify 4.x `dist/error.d.ts`): TIMESTAMP_ERROR, TLOG_ERROR,
 * TLOG_INCLUSION_PROMISE_ERROR, TLOG_INCLUSION_PROOF_ERROR, TLOG_MISSING_INCLUSION_ERROR,
 * TLOG_BODY_ERROR, CERTIFICATE_ERROR, PUBLIC_KEY_ERROR, SIGNATURE_ERROR, NOT_IMPLEMENTED_ERROR, and
 * the PolicyError UNTRUSTED_SIGNER_ERROR.
 */
import { PolicyError, VerificationError } from '@sigstore/verify';

/** The verification failures a signature can have (how close it came to passing: verify.ts FAILURE_RANK). */
export type Failure = 'invalid' | 'untrusted_key' | 'untrusted_identity' | 'no_tlog' | 'digest_mismatch' | 'reference_mismatch';

export interface Explained {
  failure: Failure;
  /** A sentence for the finding's message. */
  reason: string;
  /** The library's code and message, for the evidence. */
  detail: string;
}

export interface ExplainContext {
  /** A key signer (`signatures.keys`, `--key`), or a keyless (Fulcio certificate) one. */
  keyed: boolean;
  /** The requirement's `signatures.tlog` (`optional` also comes from `--insecure-ignore-tlog`). */
  tlog: 'required' | 'optional';
  /** The signer, for messages: `key cosign.pub`. */
  label: string;
}

const TLOG_SETTING =
  "the policy's signatures.tlog: required asks for one (as the command line does without --insecure-ignore-tlog); signatures.tlog: optional, or --insecure-ignore-tlog with --key, accepts a key signature without one (what cosign sign --tlog-upload=false makes)";

const KEYLESS_TIME =
  'a keyless certificate is valid only for minutes after it was issued, so without a trusted time it cannot be checked: a keyless signature needs a Rekor entry or an RFC 3161 signed timestamp whatever signatures.tlog or --insecure-ignore-tlog say';

const TRUSTED_ROOT = 'the trusted root (--trusted-root, or `kamal-gate trust refresh` for the public-good Sigstore)';

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function causeOf(e: VerificationError): string | undefined {
  const cause: unknown = e.cause;
  return cause instanceof Error ? cause.message : undefined;
}

function timestampError(msg: string, ctx: ExplainContext): Pick<Explained, 'failure' | 'reason'> {
  if (/^expected \d+ timestamps/.test(msg)) {
    if (!ctx.keyed) return { failure: 'no_tlog', reason: `no transparency-log (Rekor) entry and no signed timestamp: nothing proves when the signature was made; ${KEYLESS_TIME}` };
    return { failure: 'no_tlog', reason: `no transparency-log (Rekor) entry or signed timestamp: the signature has no proof of when it was made; ${TLOG_SETTING}` };
  }
  if (/duplicate/.test(msg)) return { failure: 'invalid', reason: 'the same timestamp appears twice in the signature: it was assembled by hand or altered' };
  return {
    failure: 'invalid',
    reason: `the signed (RFC 3161) timestamp does not verify against a timestamp authority in ${TRUSTED_ROOT}: it comes from another authority, or it was altered`,
  };
}

function tlogError(msg: string, ctx: ExplainContext): Pick<Explained, 'failure' | 'reason'> {
  if (/^expected \d+ tlog entries/.test(msg)) {
    const stamped = ctx.keyed ? '' : ' (it has a signed timestamp, which signatures.tlog: optional or --insecure-ignore-tlog would accept)';
    return { failure: 'no_tlog', reason: `no transparency-log (Rekor) entry: the signature was never recorded in the public log${stamped}; ${TLOG_SETTING}` };
  }
  return { failure: 'invalid', reason: 'the same transparency-log entry appears twice in the signature: it was assembled by hand or altered' };
}

function certificateError(e: VerificationError, msg: string): Pick<Explained, 'failure' | 'reason'> {
  if (/SCT/.test(msg)) {
    return /^expected \d+ SCTs/.test(msg)
      ? { failure: 'invalid', reason: `the signing certificate carries no certificate-transparency timestamp (SCT) from a CT log in ${TRUSTED_ROOT}: Fulcio embeds one in every certificate it issues` }
      : { failure: 'invalid', reason: `the signing certificate's certificate-transparency timestamp (SCT) does not verify against a CT log in ${TRUSTED_ROOT}` };
  }
  const cause = causeOf(e) ?? msg;
  if (/not valid or expired/.test(cause)) {
    return { failure: 'untrusted_identity', reason: 'the signing certificate was not valid at the time the signature was logged or timestamped: the signature was not made while the certificate was' };
  }
  return {
    failure: 'untrusted_identity',
    reason: `the signing certificate was not issued by a certificate authority (Fulcio) in ${TRUSTED_ROOT}: it comes from another Sigstore instance or a private CA, whose trusted root --trusted-root can name`,
  };
}

/** Turns an error @sigstore/verify threw into a failure with a sentence, keeping the library's words as detail. */
export function explainVerifyError(e: unknown, ctx: ExplainContext): Explained {
  const msg = messageOf(e);
  if (e instanceof PolicyError) return { failure: 'untrusted_identity', reason: `the signing certificate names another identity than the policy's: ${msg}`, detail: `${e.code}: ${msg}` };
  if (!(e instanceof VerificationError)) return { failure: 'invalid', reason: `the signature cannot be read: ${msg}`, detail: msg };
  const cause = causeOf(e);
  const detail = `${e.code}: ${msg}${cause ? ` (${cause})` : ''}`;
  const out = (x: Pick<Explained, 'failure' | 'reason'>): Explained => ({ ...x, detail });
  switch (e.code) {
    case 'TIMESTAMP_ERROR':
      return out(timestampError(msg, ctx));
    case 'TLOG_ERROR':
      return out(tlogError(msg, ctx));
    case 'TLOG_INCLUSION_PROMISE_ERROR':
      return out({
        failure: 'invalid',
        reason: `the transparency-log entry's signed promise (SET) does not verify against a Rekor log in ${TRUSTED_ROOT}: the entry was forged or altered, or comes from a log that root does not list`,
      });
    case 'TLOG_INCLUSION_PROOF_ERROR':
      return out({ failure: 'invalid', reason: `the transparency-log entry's inclusion proof does not verify against a checkpoint signed by a Rekor log in ${TRUSTED_ROOT}` });
    case 'TLOG_MISSING_INCLUSION_ERROR':
      return out({ failure: 'invalid', reason: 'the transparency-log entry carries neither a signed promise (SET) nor an inclusion proof: nothing shows it was logged' });
    case 'TLOG_BODY_ERROR':
      return out({
        failure: 'invalid',
        reason: 'the transparency-log entry records another signature or payload than this one: it was taken from another signature, or the signature or its payload was altered',
      });
    case 'SIGNATURE_ERROR':
      // With a key, a signature that does not verify is another key's (or altered bytes: both fail the same way);
      // a certificate carries its own key, so there it can only be altered.
      return ctx.keyed
        ? out({ failure: 'untrusted_key', reason: `the signature does not verify with ${ctx.label}: it was made with another key (or its payload was altered)` })
        : out({ failure: 'invalid', reason: 'the signature does not verify with the key of its own certificate: the signature or its payload was altered' });
    case 'PUBLIC_KEY_ERROR':
      return out({ failure: 'untrusted_key', reason: `the signature was not made with ${ctx.label} at a time that key is valid for` });
    case 'CERTIFICATE_ERROR':
      return out(certificateError(e, msg));
    case 'NOT_IMPLEMENTED_ERROR':
      return out({ failure: 'invalid', reason: `the signature uses a Sigstore feature this verifier does not support: ${msg}` });
    default:
      return out({ failure: 'invalid', reason: `the signature does not verify: ${msg}` });
  }
}
