/**
 * GitHub names as gh attestation verify takes them (--owner, --repo, --signer-workflow): the policy
 * schema and the command line's attestation flags check them alike. Apart from the schema so the
 * flags do not load zod.
 */
export const GITHUB_NAME = {
  owner: /^[A-Za-z0-9_.-]+$/,
  repository: /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/,
  /** owner/name/.github/workflows/file.yml, optionally after github.com/, without @ref. */
  workflow: /^(?:github\.com\/)?[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/\.github\/workflows\/[^@\s]+$/,
} as const;
export const WORKFLOW_HELP = 'expected owner/name/.github/workflows/file.yml (optionally after github.com/, without @ref: any ref of that file matches)';
