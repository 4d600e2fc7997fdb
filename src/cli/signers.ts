/**
 * The cosign-style signer flags of `verify` (`--key`, `--certificate-identity[-regexp]`,
 * `--certificate-oidc-issuer[-regexp]`, `--certificate-github-workflow-*`, `--insecure-ignore-tlog`)
 * as one signatures requirement. It applies to every image, is enforced, and adds to the policy:
 * the policy's own signatures group (if any) must hold too, so flags can only tighten a policy.
 * Every flag is checked, and every key read, before anything is asked of a registry.
 */
import { resolve } from 'node:path';
import { ConfigError, UsageError } from '../errors.js';
import type { KeyFile, KeylessIdentity, Origin, SignaturesRequirement } from '../policy/types.js';
import { loadPublicKey } from '../signatures/signers.js';

export interface SignerFlags {
  key?: string[];
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
  certificateGithubWorkflowRepository?: string;
  certificateGithubWorkflowRef?: string;
  certificateGithubWorkflowName?: string;
  certificateGithubWorkflowSha?: string;
  insecureIgnoreTlog?: boolean;
}

/** What `setBy` names in reports for findings of this requirement. */
export const COMMAND_LINE_ORIGIN: Origin = { rule: 'command line' };

function regexp(flag: string, value: string): string {
  try {
    new RegExp(value);
  } catch (e) {
    throw new UsageError(`${flag}: not a valid regular expression: ${(e as Error).message}`);
  }
  return value;
}

function nonEmpty(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '') throw new UsageError(`${flag}: empty value`);
  return value;
}

/** Key references cosign takes that name a key kept elsewhere: a KMS, Vault, a Kubernetes secret. */
const UNSUPPORTED_KEY_SCHEMES = ['awskms', 'gcpkms', 'hashivault', 'azurekms', 'k8s', 'pkcs11'];

/** `--key` as given: a file path, or `env://NAME` (the PEM in the environment variable NAME). */
function keyRef(ref: string, cwd: string, env: NodeJS.ProcessEnv): KeyFile {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(ref)?.[1]?.toLowerCase();
  if (scheme === 'env') {
    const name = ref.slice('env://'.length);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--key ${ref}: expected env://NAME, NAME an environment variable holding the PEM public key`);
    const pem = env[name];
    if (pem === undefined || pem.trim() === '') throw new UsageError(`--key ${ref}: the environment variable ${name} is not set (or empty); set it to the PEM public key (cosign.pub)`);
    return { path: ref, resolved: ref, pem };
  }
  if (scheme !== undefined && UNSUPPORTED_KEY_SCHEMES.includes(scheme)) {
    throw new UsageError(
      `--key ${ref}: ${scheme}:// keys are not supported; only a public key file (PEM) and env://NAME are. Export the public key (cosign public-key --key ${scheme}://… > cosign.pub) and give that file`,
    );
  }
  if (scheme !== undefined) throw new UsageError(`--key ${ref}: the scheme ${scheme}:// is not supported; give a public key file (PEM) or env://NAME`);
  return { path: ref, resolved: resolve(cwd, ref) };
}

/** The requirement the flags ask for, or undefined when none is given. Throws UsageError (exit 2) for a bad combination or key. */
export async function commandLineSigners(opts: SignerFlags, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ value: SignaturesRequirement; origin: Origin } | undefined> {
  const keys = (opts.key ?? []).map((k) => nonEmpty('--key', k)!);
  const identity = nonEmpty('--certificate-identity', opts.certificateIdentity);
  const identityRegexp = nonEmpty('--certificate-identity-regexp', opts.certificateIdentityRegexp);
  const issuer = nonEmpty('--certificate-oidc-issuer', opts.certificateOidcIssuer);
  const issuerRegexp = nonEmpty('--certificate-oidc-issuer-regexp', opts.certificateOidcIssuerRegexp);
  const github = {
    repository: nonEmpty('--certificate-github-workflow-repository', opts.certificateGithubWorkflowRepository),
    ref: nonEmpty('--certificate-github-workflow-ref', opts.certificateGithubWorkflowRef),
    workflow: nonEmpty('--certificate-github-workflow-name', opts.certificateGithubWorkflowName),
    sha: nonEmpty('--certificate-github-workflow-sha', opts.certificateGithubWorkflowSha),
  };
  const githubGiven = Object.values(github).some((v) => v !== undefined);
  const keyless = identity !== undefined || identityRegexp !== undefined;
  const certificateFlags = keyless || issuer !== undefined || issuerRegexp !== undefined || githubGiven;

  if (!keys.length && !certificateFlags) {
    if (opts.insecureIgnoreTlog) throw new UsageError('--insecure-ignore-tlog applies to the signer given with --key; add --key PATH (the policy sets its own with signatures.tlog)');
    return undefined;
  }
  if (keys.length && certificateFlags) {
    throw new UsageError(
      'give either --key or --certificate-identity/--certificate-oidc-issuer, not both (as cosign); to accept either signer, list both in the policy under signatures.keys and signatures.keyless',
    );
  }

  let value: SignaturesRequirement;
  if (keys.length) {
    const files: KeyFile[] = keys.map((ref) => keyRef(ref, cwd, env));
    for (const f of files) {
      try {
        await loadPublicKey(f);
      } catch (e) {
        if (e instanceof ConfigError) throw new UsageError(`--key ${e.message}`);
        throw e;
      }
    }
    // Any one of the keys given (e.g. the old and the new key during a rotation).
    value = { mode: 'enforce', count: 1, keys: files, keyless: [], tlog: opts.insecureIgnoreTlog ? 'optional' : 'required' };
  } else {
    if (identity !== undefined && identityRegexp !== undefined) throw new UsageError('give --certificate-identity or --certificate-identity-regexp, not both');
    if (issuer !== undefined && issuerRegexp !== undefined) throw new UsageError('give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both');
    if (!keyless)
      throw new UsageError('--certificate-oidc-issuer and the --certificate-github-workflow-* flags need the identity too: add --certificate-identity (exact) or --certificate-identity-regexp');
    if (issuer === undefined && issuerRegexp === undefined) {
      throw new UsageError(
        `${identity !== undefined ? '--certificate-identity' : '--certificate-identity-regexp'} needs the OIDC issuer too: add --certificate-oidc-issuer (e.g. https://token.actions.githubusercontent.com for GitHub Actions)`,
      );
    }
    if (github.repository !== undefined && !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(github.repository)) throw new UsageError('--certificate-github-workflow-repository: expected owner/name');
    if (github.ref !== undefined && !/^refs\/\S+$/.test(github.ref)) throw new UsageError('--certificate-github-workflow-ref: expected a git ref such as refs/heads/main or refs/tags/v1.2.3');
    if (github.sha !== undefined && !/^[0-9a-f]{40}$/.test(github.sha)) throw new UsageError('--certificate-github-workflow-sha: expected a 40-character lowercase hex commit');
    const id: KeylessIdentity = {
      ...(identity !== undefined ? { identity } : { identityRegexp: regexp('--certificate-identity-regexp', identityRegexp!) }),
      ...(issuer !== undefined ? { issuer } : { issuerRegexp: regexp('--certificate-oidc-issuer-regexp', issuerRegexp!) }),
      ...(githubGiven ? { github: Object.fromEntries(Object.entries(github).filter(([, v]) => v !== undefined)) } : {}),
    };
    // A certificate is only ever checked at a trusted time: with --insecure-ignore-tlog a signed
    // timestamp (RFC 3161) must stand in for the Rekor entry, as with cosign.
    value = { mode: 'enforce', count: 1, keys: [], keyless: [id], tlog: opts.insecureIgnoreTlog ? 'optional' : 'required' };
  }
  return { value, origin: COMMAND_LINE_ORIGIN };
}
