/**
 * One error class per failure kind. Each carries the exit code the CLI maps it to and a message a
 * user can act on: what went wrong, where (file:line, or registry and ref), and what to do.
 *
 * Exit codes (DESIGN.md): 0 passed, 1 policy violation, 2 usage or config error, 3 could not verify.
 */
import { redact } from './redact.js';

/** The `code` of a Node system error (`ENOENT`, `EACCES`, …), or undefined for anything else. */
export function errCode(e: unknown): string | undefined {
  return e && typeof e === 'object' && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

export const EXIT = {
  ok: 0,
  violation: 1,
  usage: 2,
  unverifiable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export abstract class KamalGateError extends Error {
  abstract readonly exitCode: ExitCode;
  /** A short, stable machine-readable kind, e.g. `config`, `registry`. */
  abstract readonly kind: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(redact(message), options);
    this.name = new.target.name;
  }
}

/** Bad command-line usage: unknown flag combination, invalid argument. */
export class UsageError extends KamalGateError {
  readonly exitCode = EXIT.usage;
  readonly kind = 'usage';
}

/** A problem in a file the user gave us (deploy.yml, secrets, policy). Message names file and line (and column when known). */
export class ConfigError extends KamalGateError {
  readonly exitCode = EXIT.usage;
  readonly kind = 'config';
  readonly column?: number;
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
    options?: { cause?: unknown; column?: number },
  ) {
    const at = line ? `:${line}${options?.column ? `:${options.column}` : ''}` : '';
    super(file ? `${file}${at}: ${message}` : message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (line && options?.column) this.column = options.column;
  }
}

/** An image reference that does not parse. */
export class ReferenceFormatError extends KamalGateError {
  readonly exitCode = EXIT.usage;
  readonly kind = 'reference';
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`invalid image reference "${input}": ${reason}`);
  }
}

/** The registry could not be asked or did not answer usefully: the image could not be verified. */
export class RegistryError extends KamalGateError {
  readonly exitCode = EXIT.unverifiable;
  readonly kind: string = 'registry';
  constructor(
    message: string,
    readonly registry?: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Authentication was refused (401/403 after credentials and a fresh token). */
export class AuthError extends RegistryError {
  override readonly kind = 'auth';
}

/** The tag (or digest) does not exist in the registry. */
export class NotFoundError extends RegistryError {
  override readonly kind: string = 'not_found';
}

/** The tag (or digest) a reference names is not in the registry: the thing the ledger calls deleted. */
export class TagNotFoundError extends NotFoundError {
  override readonly kind = 'tag_not_found';
}

/** The image exists but has no build for a platform the deploy runs. */
export class PlatformMissingError extends RegistryError {
  override readonly kind = 'platform_missing';
}

/** Content did not match the digest asked for or claimed: the registry (or something between) lies. */
export class DigestMismatchError extends RegistryError {
  override readonly kind = 'digest_mismatch';
}

/** A response broke a limit or the protocol: oversized, wrong media type, malformed JSON. */
export class ProtocolError extends RegistryError {
  override readonly kind = 'protocol';
}

/**
 * The digest ledger cannot be trusted: a line that is not an entry, a broken hash or prev link, a
 * sequence out of order. The message names the file and line (or the database row's seq) and says
 * to run `kamal-gate ledger verify` and restore the ledger; the ledger is never silently rewritten.
 */
export class LedgerError extends KamalGateError {
  readonly exitCode = EXIT.usage;
  readonly kind = 'ledger';
  constructor(
    message: string,
    /** The ledger file path or redacted database URL. */
    readonly location?: string,
    /** 1-based line of the file ledger, when the problem is in one line. */
    readonly line?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The ledger could not be used at all: database unreachable or refusing our credentials, the file
 * not readable or writable, the writer lock not obtained in time. Nothing could be verified.
 */
export class LedgerUnavailableError extends KamalGateError {
  readonly exitCode = EXIT.unverifiable;
  readonly kind = 'ledger_unavailable';
  constructor(
    message: string,
    readonly location?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One problem in a policy file: where (file:line:column), which key (`rules[0].base.maxAge`), what. */
export interface PolicyProblem {
  file: string;
  line?: number;
  column?: number;
  /** The key's path, e.g. `rules[0].base.maxAge`. */
  path?: string;
  message: string;
}

/**
 * A policy file that cannot be used. Carries every problem found, not just the first; the message
 * is a summary line followed by one `file:line:column: path: problem` line per problem, and
 * file/line/column are those of the first problem.
 */
export class PolicyError extends KamalGateError {
  readonly exitCode = EXIT.usage;
  readonly kind = 'policy';
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  constructor(
    summary: string,
    readonly problems: readonly PolicyProblem[] = [],
    options?: { cause?: unknown },
  ) {
    super([summary, ...problems.map(formatPolicyProblem)].join('\n'), options);
    const first = problems[0];
    this.file = first?.file;
    this.line = first?.line;
    this.column = first?.column;
  }
}

export function formatPolicyProblem(p: PolicyProblem): string {
  const where = p.line ? `${p.file}:${p.line}${p.column ? `:${p.column}` : ''}` : p.file;
  return `${where}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

export function isKamalGateError(e: unknown): e is KamalGateError {
  return e instanceof KamalGateError;
}

/**
 * For what is only evidence (a base image, its tags, its provenance): a registry that cannot answer
 * is worth a note, so this is true; one that serves wrong bytes (DigestMismatchError) is lying, and
 * anything not ours is a bug: those the caller rethrows.
 */
export function isUnanswered(e: unknown): e is KamalGateError {
  return e instanceof KamalGateError && !(e instanceof DigestMismatchError);
}
