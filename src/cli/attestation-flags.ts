/**
 * The attestation flags of `verify`, after `gh attestation verify oci://IMAGE` (cli/cli pkg/cmd/attestation/verify):
 *
 *   kamal-gate verify                           gh attestation verify
 *   --attestation-owner ORG                     --owner ORG
 *   --attestation-repo OWNER/NAME               --repo OWNER/NAME
 *   --attestation-signer-repo OWNER/NAME        --signer-repo OWNER/NAME
 *   --attestation-signer-workflow OWNER/NAME/.github/workflows/F.yml
 *                                               --signer-workflow OWNER/NAME/.github/workflows/F.yml
 *   --attestation-oidc-issuer URL               --cert-oidc-issuer URL (default https://token.actions.githubusercontent.com)
 *   --predicate-type URI                        --predicate-type URI (default https://slsa.dev/provenance/v1)
 *   --deny-self-hosted-runners                  --deny-self-hosted-runners
 *
 * make one attestation requirement for every image, enforced, on top of the policy (whose attestations group must
 * hold too): flags only tighten. Every flag is checked before anything is asked of a registry (exit 2).
 */
import { UsageError } from '../errors.js';
import { PREDICATE_TYPES } from '../policy/compile.js';
import { GITHUB_NAME, WORKFLOW_HELP } from '../policy/github-names.js';
import type { AttestationsRequirement, GithubClaims, Origin } from '../policy/types.js';
import { GITHUB, PREDICATE } from '../signatures/constants.js';
import { COMMAND_LINE_ORIGIN } from './signers.js';

export interface AttestationFlags {
  attestationOwner?: string;
  attestationRepo?: string;
  attestationSignerRepo?: string;
  attestationSignerWorkflow?: string;
  attestationOidcIssuer?: string;
  predicateType?: string;
  denySelfHostedRunners?: boolean;
}

function given(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '') throw new UsageError(`${flag}: empty value`);
  return value;
}

function repository(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && !GITHUB_NAME.repository.test(value)) throw new UsageError(`${flag}: expected OWNER/NAME (e.g. acme/app), got ${value}`);
  return value;
}

/** `[github.com/]OWNER/NAME/.github/workflows/FILE`, as gh takes it (there the host may be another GitHub; here github.com only). */
function workflow(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const host = /^([^/]+\.[^/]+)\//.exec(value)?.[1];
  if (host !== undefined && host !== 'github.com') throw new UsageError(`${flag}: only github.com workflows can be checked, not ${host}`);
  if (value.includes('@')) throw new UsageError(`${flag}: ${WORKFLOW_HELP}; to pin the ref, give the whole identity in the policy (attestations.require[].signedBy.identity)`);
  if (!GITHUB_NAME.workflow.test(value)) throw new UsageError(`${flag}: ${WORKFLOW_HELP}, got ${value}`);
  return value.replace(/^github\.com\//, '');
}

function predicateType(value: string | undefined): { type: string; predicateTypes: string[] } {
  if (value === undefined) return { type: PREDICATE.slsaV1, predicateTypes: [PREDICATE.slsaV1] };
  const known = PREDICATE_TYPES[value];
  if (known) return { type: value, predicateTypes: known };
  if (!/^[a-z][a-z0-9+.-]*:\S+$/.test(value)) {
    throw new UsageError(
      `--predicate-type: expected a predicate type URI (https://slsa.dev/provenance/v1, https://spdx.dev/Document, …) or one of ${Object.keys(PREDICATE_TYPES).join(', ')}, got ${value}`,
    );
  }
  return { type: value, predicateTypes: [value] };
}

function issuerUrl(value: string | undefined): string {
  if (value === undefined) return GITHUB.issuer;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--attestation-oidc-issuer: expected the issuer's URL (e.g. ${GITHUB.issuer}), got ${value}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--attestation-oidc-issuer: expected an https:// URL, got ${value}`);
  return value;
}

/** The requirement the flags ask for, or undefined when none is given. Throws UsageError (exit 2) for a bad value or combination. */
export function commandLineAttestations(opts: AttestationFlags): { value: AttestationsRequirement; origin: Origin } | undefined {
  const owner = given('--attestation-owner', opts.attestationOwner);
  const repo = repository('--attestation-repo', given('--attestation-repo', opts.attestationRepo));
  const signerRepo = repository('--attestation-signer-repo', given('--attestation-signer-repo', opts.attestationSignerRepo));
  const signerWorkflow = workflow('--attestation-signer-workflow', given('--attestation-signer-workflow', opts.attestationSignerWorkflow));
  const issuer = given('--attestation-oidc-issuer', opts.attestationOidcIssuer);
  const type = given('--predicate-type', opts.predicateType);
  const refinements: Array<[string, boolean]> = [
    ['--attestation-signer-repo', signerRepo !== undefined],
    ['--attestation-signer-workflow', signerWorkflow !== undefined],
    ['--attestation-oidc-issuer', issuer !== undefined],
    ['--predicate-type', type !== undefined],
    ['--deny-self-hosted-runners', opts.denySelfHostedRunners === true],
  ];
  const extra = refinements.filter(([, on]) => on).map(([flag]) => flag);

  if (owner === undefined && repo === undefined) {
    if (!extra.length) return undefined;
    throw new UsageError(
      `${extra.join(', ')} ${extra.length === 1 ? 'needs' : 'need'} --attestation-owner ORG or --attestation-repo OWNER/NAME too: whose GitHub repository the attestation must come from (as gh attestation verify needs --owner or --repo)`,
    );
  }
  if (owner !== undefined && repo !== undefined) {
    throw new UsageError('give --attestation-owner or --attestation-repo, not both (as gh attestation verify --owner / --repo): --attestation-repo OWNER/NAME already names the owner');
  }
  if (owner !== undefined && !GITHUB_NAME.owner.test(owner)) throw new UsageError(`--attestation-owner: expected a GitHub organization or user name (e.g. acme), got ${owner}`);
  if (signerRepo !== undefined && signerWorkflow !== undefined) {
    throw new UsageError('give --attestation-signer-repo or --attestation-signer-workflow, not both (as gh attestation verify): each names who signed');
  }
  const pt = predicateType(type);
  const github: GithubClaims = {
    // gh checks the Source Repository Owner URI in every case, the owner of --repo included.
    owner: owner ?? repo!.split('/')[0]!,
    ...(repo !== undefined ? { repository: repo } : {}),
    ...(signerRepo !== undefined ? { signerRepository: signerRepo } : {}),
    ...(signerWorkflow !== undefined ? { signerWorkflow } : {}),
    ...(opts.denySelfHostedRunners ? { runner: 'github-hosted' as const } : {}),
  };
  return { value: { mode: 'enforce', require: [{ ...pt, signedBy: { issuer: issuerUrl(issuer), github } }] }, origin: COMMAND_LINE_ORIGIN };
}
