/**
 * The policy file format, in zod: the single source of truth for validation and for the published
 * JSON Schema (`policies/schema.json`, `kamal-gate policy schema`). Every object is strict: an
 * unknown key is an error at any depth, so a typo can never silently weaken a policy.
 *
 * Checks that span several keys (duplicate rule names, signer counts, key files that must exist)
 * are in semantics.ts; what is written here is checked value by value.
 */
import { z } from 'zod';
import { parseReference } from '../registry/reference.js';
import { DURATION_PATTERN, durationProblem } from './duration.js';
import { globProblem, type GlobKind } from './glob.js';
import { GITHUB_NAME, WORKFLOW_HELP } from './github-names.js';

// zod's parsers as written, not compiled to code with new Function on first use: a policy is parsed
// once per run, and compiling cost more than it saved (first parse of policies/strict.yml about 7 ms
// against 3.5 ms), besides generating code at run time.
z.config({ jitless: true });

const MODE_HELP = 'enforce: a failing requirement fails the run (exit 1); warn: it is reported but never fails; off: the group is not checked (switches off what an earlier rule set).';

const mode = z.enum(['enforce', 'warn', 'off']).default('enforce').describe(`How this requirement group counts. ${MODE_HELP}`);

function glob(kind: GlobKind, description: string) {
  return z
    .string()
    .check((ctx) => {
      const problem = globProblem(kind, ctx.value);
      if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    })
    .describe(description);
}

const duration = (description: string) =>
  z
    .string({ error: (iss) => durationProblem(iss.input) })
    .regex(DURATION_PATTERN, { error: (iss) => durationProblem(iss.input) })
    .describe(`${description} A whole number followed by h (hours), d (days) or w (weeks): 36h, 90d, 12w.`);

function regexp(description: string) {
  return z
    .string()
    .min(1)
    .check((ctx) => {
      try {
        new RegExp(ctx.value);
      } catch (e) {
        ctx.issues.push({ code: 'custom', message: `not a valid regular expression: ${(e as Error).message}`, input: ctx.value });
      }
    })
    .describe(`${description} A regular expression, anchored: it must match the whole value.`);
}

function reference(description: string, opts: { repositoryOnly: boolean }) {
  return z
    .string()
    .check((ctx) => {
      try {
        const r = parseReference(ctx.value);
        if (opts.repositoryOnly && !r.tagDefaulted) {
          ctx.issues.push({ code: 'custom', message: 'name a repository, without tag or digest', input: ctx.value });
        }
      } catch (e) {
        ctx.issues.push({ code: 'custom', message: (e as Error).message, input: ctx.value });
      }
    })
    .describe(description);
}

const path = (description: string) => z.string().min(1).describe(description);

const githubBase = {
  repository: z
    .string()
    .regex(GITHUB_NAME.repository, { error: 'expected owner/name' })
    .optional()
    .describe('The repository the workflow ran in (owner/name): the repository extensions of the certificate, compared case-insensitively. Like gh attestation verify --repo.'),
  ref: z
    .string()
    .regex(/^refs\/\S+$/, { error: 'expected a git ref such as refs/heads/main or refs/tags/v1.2.3' })
    .optional()
    .describe('The git ref the workflow ran for (refs/heads/main, refs/tags/v1.2.3).'),
  workflow: z.string().min(1).optional().describe('The workflow file name (release.yml) or name the certificate names.'),
  sha: z
    .string()
    .regex(/^[0-9a-f]{40}$/, { error: 'expected a 40-character lowercase hex commit' })
    .optional()
    .describe('The commit the workflow ran on.'),
};

const github = z
  .strictObject({
    ...githubBase,
    owner: z
      .string()
      .regex(GITHUB_NAME.owner, { error: 'expected a GitHub organization or user name' })
      .optional()
      .describe('The organization or user owning the repository the workflow ran in (Source Repository Owner URI), case-insensitively. Like gh attestation verify --owner.'),
    signerRepository: z
      .string()
      .regex(GITHUB_NAME.repository, { error: 'expected owner/name' })
      .optional()
      .describe('The signer (identity) must be a workflow of this repository, e.g. where a reusable workflow lives. Like gh attestation verify --signer-repo.'),
    signerWorkflow: z
      .string()
      .regex(GITHUB_NAME.workflow, { error: WORKFLOW_HELP })
      .optional()
      .describe('The signer (identity) must be this workflow file, at any ref. Like gh attestation verify --signer-workflow.'),
    runner: z
      .enum(['github-hosted'])
      .optional()
      .describe('github-hosted: the job must have run on a GitHub-hosted runner (Runner Environment extension). Like gh attestation verify --deny-self-hosted-runners.'),
  })
  .describe(
    'GitHub Actions claims the signing certificate must carry, besides the identity. With owner, repository, signerRepository or signerWorkflow, identity and issuer may be left out (as gh attestation verify): the identity is then any workflow of the signer repository, else of the repository, else of the owner, and the issuer https://token.actions.githubusercontent.com.',
  );

/** A ledger checkpoint's signer keeps the original claims: identity and issuer stay required there. */
const checkpointGithub = z.strictObject(githubBase).describe('GitHub Actions claims the signing certificate must carry, besides the identity.');

const keylessFields = {
  identity: z.string().min(1).optional().describe("The certificate's identity (SAN), exactly: a workflow URL with @ref, or an e-mail. Like cosign --certificate-identity."),
  identityRegexp: regexp("The certificate's identity as a regular expression. Like cosign --certificate-identity-regexp.").optional(),
  issuer: z.string().min(1).optional().describe('The OIDC issuer, exactly (https://token.actions.githubusercontent.com). Like cosign --certificate-oidc-issuer.'),
  issuerRegexp: regexp('The OIDC issuer as a regular expression.').optional(),
  github: github.optional(),
};

const keyless = z
  .strictObject(keylessFields)
  .describe('A keyless (Sigstore/Fulcio) signer: one of identity or identityRegexp, and one of issuer or issuerRegexp (both may be left out with github owner, repository or signer).');

const checkpointKeyless = z
  .strictObject({ ...keylessFields, github: checkpointGithub.optional() })
  .describe('A keyless (Sigstore/Fulcio) signer: one of identity or identityRegexp, and one of issuer or issuerRegexp.');

const signatures = z
  .strictObject({
    mode,
    count: z.int().min(1).default(1).describe('How many distinct signers of those listed (keys and keyless) must have signed the image.'),
    keys: z.array(path('A cosign public key file (PEM), relative to the policy file.')).optional().describe('Public keys whose signatures count.'),
    keyless: z.array(keyless).optional().describe('Keyless signers whose signatures count.'),
    tlog: z.enum(['required', 'optional']).default('required').describe('required: a signature counts only with proof of inclusion in the Rekor transparency log.'),
    repository: reference('Where signatures are stored when not beside the image (like COSIGN_REPOSITORY): registry/repository.', { repositoryOnly: true }).optional(),
    reference: z
      .enum(['ignore', 'match'])
      .default('ignore')
      .describe(
        "What a cosign simple-signing payload's docker-reference must name. ignore (as cosign does): only the signed digest binds the signature to the image, so a copy in a mirror or another registry verifies; match: it must name the image's own registry/repository or one of allowedReferences.",
      ),
    allowedReferences: z
      .array(glob('repository', 'A glob on the normalized registry/repository (ghcr.io/acme/*, ghcr.io/acme/**).'))
      .min(1)
      .optional()
      .describe('With reference: match, the other repositories a signature may name: where the image was signed before it was copied (a mirror, cosign copy).'),
  })
  .describe('Signatures the image must carry (cosign / Sigstore).');

const KNOWN_ATTESTATIONS = ['slsa-provenance', 'spdx', 'cyclonedx'] as const;
const ATTESTATION_TYPE_HELP = `expected ${KNOWN_ATTESTATIONS.join(', ')} or a predicate type URI (https://…)`;

const attestation = z
  .strictObject({
    type: z
      .union([z.enum(KNOWN_ATTESTATIONS), z.string().regex(/^[a-z][a-z0-9+.-]*:\S+$/, { error: ATTESTATION_TYPE_HELP })], { error: ATTESTATION_TYPE_HELP })
      .describe('The attestation: slsa-provenance, spdx, cyclonedx, or an in-toto predicate type URI.'),
    signedBy: z
      .strictObject({ key: path('A public key file, relative to the policy file.').optional(), ...keylessFields })
      .optional()
      .describe('Who must have signed the attestation: a key, or a keyless identity and issuer.'),
    builderId: z.string().min(1).optional().describe('For provenance: the builder.id it must name (https://github.com/actions/runner).'),
    sourceRepository: z.string().min(1).optional().describe('For provenance: the source repository it must name (github.com/acme/app).'),
  })
  .describe('One attestation the image must have.');

const attestations = z
  .strictObject({
    mode,
    require: z.array(attestation).min(1).optional().describe('Every attestation listed must be present.'),
  })
  .describe('Attestations (provenance, SBOM) the image must have.');

const base = z
  .strictObject({
    mode,
    maxAge: duration('How old the base image may be (from its creation, or when the ledger first saw it).').optional(),
    maxStaleness: duration("How long a newer base may have existed under the base's tag without the image being rebuilt.").optional(),
    allowed: z
      .array(glob('repository', 'A glob on the normalized base repository (docker.io/library/ruby, docker.io/library/*).'))
      .min(1)
      .optional()
      .describe('Bases the image may be built on; absent: any.'),
    candidates: z
      .array(reference('A base image reference (docker.io/library/ruby:3.3-slim).', { repositoryOnly: false }))
      .min(1)
      .optional()
      .describe('Bases to try by layer prefix when no annotation or provenance names the base.'),
    unknown: z
      .enum(['enforce', 'warn', 'ignore'])
      .optional()
      .describe('How a base that cannot be identified (base.unknown), or that is named but not confirmed by its layers (base.unconfirmed), counts; ignore: not reported. Default: as mode.'),
  })
  .describe("The image's base image: age, staleness, which bases are allowed.");

const image = z
  .strictObject({
    mode,
    maxAge: duration('How old the image itself may be (its config created time).').optional(),
  })
  .describe('The image itself.');

const tags = z
  .strictObject({
    mode,
    immutable: z.boolean().default(true).describe('true: a tag that moved (tag.overwritten, tag.rolled_back, tag.deleted) fails, whatever mode says; false: moves are reported as warnings.'),
    forbid: z.array(glob('tag', 'A tag glob (latest, *-rc*).')).optional().describe('Tags that may not be deployed (tag.forbidden).'),
    requireDigest: z.boolean().default(false).describe('The image must be referenced by digest in the Kamal config (tag.not_pinned).'),
  })
  .describe('Tags: immutability, forbidden tags, pinning. mode applies to forbid and requireDigest; immutable carries its own verdict.');

const platform = z
  .string()
  .regex(/^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/, { error: 'expected os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7' })
  .describe('A platform: os/architecture[/variant].');

const platforms = z
  .strictObject({
    mode,
    require: z
      .union([z.literal('builder'), z.array(platform).min(1)], { error: 'expected a list of platforms (linux/amd64) or "builder"' })
      .optional()
      .describe('Platforms the image must offer (platform.missing); builder: those the Kamal config builds for (builder.arch).'),
  })
  .describe('Platforms the image must be built for.');

const ledger = z
  .strictObject({
    mode,
    trust: z
      .enum(['tofu', 'strict'])
      .default('tofu')
      .describe('tofu: a tag the ledger has never seen is recorded on first use; strict: it must have been recorded by `kamal-gate record` (tag.unrecorded).'),
    checkpoint: z
      .strictObject({
        keys: z.array(path('A public key file (PEM) whose checkpoints count, relative to the policy file.')).optional().describe('Keys that may sign the ledger head.'),
        keyless: z.array(checkpointKeyless).optional().describe('Keyless (Sigstore) identities that may sign the ledger head.'),
      })
      .optional()
      .describe(
        'Require the ledger head to be covered by a checkpoint signed by one of these signers (ledger.checkpoint): without one the image fails, and approvals written after the newest such checkpoint approve nothing.',
      ),
  })
  .describe('The digest ledger.');

const config = z
  .strictObject({
    mode,
    ignore: z.array(glob('rule', 'A config lint rule id or glob (config.image_latest, config.accessory_*).')).optional().describe('Config lint findings that are not reported at all.'),
  })
  .describe(
    'Kamal config lint (`kamal-gate lint`, and verify with a Kamal config): docker socket mounts, privileged containers, secrets in clear env or tracked by git, unchecked SSH host keys, latest and unpinned images.',
  );

export const groupShapes = { ledger, signatures, attestations, base, image, tags, platforms, config };

const groupFields = {
  ledger: ledger.optional(),
  signatures: signatures.optional(),
  attestations: attestations.optional(),
  base: base.optional(),
  image: image.optional(),
  tags: tags.optional(),
  platforms: platforms.optional(),
  config: config.optional(),
};

const rule = z
  .strictObject({
    name: z.string().min(1).describe('Unique name, shown in reports and by `policy explain`.'),
    description: z.string().optional().describe('What the rule is for.'),
    match: z
      .strictObject({
        images: z
          .array(glob('repository', 'A glob on the normalized registry/repository: * within a segment, ** across segments.'))
          .min(1)
          .optional()
          .describe('The rule applies to images matching any glob; absent: any image.'),
        roles: z
          .array(z.enum(['app', 'accessory', 'proxy']))
          .min(1)
          .optional()
          .describe('The rule applies to images of these roles; absent: any role.'),
      })
      .optional()
      .describe('Which images the rule applies to: every condition given must hold. Absent: every image.'),
    ...groupFields,
  })
  .describe('Requirements for the images the rule matches. Rules apply in order; a later rule replaces a requirement group an earlier rule (or defaults) set.');

const exception = z
  .strictObject({
    images: z.array(glob('reference', 'A glob on the normalized reference: registry/repository, optionally :tag (docker.io/library/redis:7.*).')).min(1).describe('Images the exception covers.'),
    rules: z.array(glob('rule', 'A finding rule id or glob (base.too_old, base.*).')).min(1).describe('Finding rule ids it waives.'),
    reason: z.string().trim().min(1, { error: 'give the reason for the exception' }).describe('Why the exception is granted (a ticket, a plan).'),
    expires: z.iso
      .date({ error: 'expected a date written YYYY-MM-DD (e.g. 2026-12-31)' })
      .describe('The last day the exception applies (YYYY-MM-DD, UTC). Afterwards it no longer applies and is itself reported.'),
  })
  .describe('Waives findings: they are still reported but never fail the run.');

export const policySchema = z
  .strictObject({
    version: z.literal(1, { error: 'expected version: 1 (the only policy format so far)' }).describe('The policy format version: 1.'),
    defaults: z.strictObject(groupFields).optional().describe('Requirements for every image, before any rule.'),
    rules: z.array(rule).optional().describe('Rules, applied in order to every image they match.'),
    exceptions: z.array(exception).optional().describe('Waivers for findings, each with a reason and an expiry date.'),
  })
  .describe('A kamal-gate policy: what every image must satisfy before Kamal deploys it.');

export type PolicyInput = z.input<typeof policySchema>;
export type PolicyDocument = z.output<typeof policySchema>;

/** The JSON Schema (draft 2020-12) of the policy file, as published in policies/schema.json. */
export function policySchemaJson(): Record<string, unknown> {
  const schema = z.toJSONSchema(policySchema, { target: 'draft-2020-12', io: 'input' });
  return { $schema: schema.$schema, title: 'kamal-gate policy', ...schema };
}
