/** The output formats of each command, apart from the renderers so the CLI can list them cheaply. */
export const VERIFY_FORMATS = ['text', 'json', 'sarif', 'github', 'junit'] as const;
export type VerifyFormat = (typeof VERIFY_FORMATS)[number];
export const LINT_FORMATS = ['text', 'json', 'sarif', 'github'] as const;
export type LintFormat = (typeof LINT_FORMATS)[number];
