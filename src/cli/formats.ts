/** The output formats of each command (and lint's --fail-on levels), apart from the renderers so the CLI can list them cheaply. */
import type { Severity } from '../types.js';

export const VERIFY_FORMATS = ['text', 'json', 'sarif', 'github', 'junit'] as const;
export type VerifyFormat = (typeof VERIFY_FORMATS)[number];
export const LINT_FORMATS = ['text', 'json', 'sarif', 'github'] as const;
export type LintFormat = (typeof LINT_FORMATS)[number];
/** `lint --fail-on`: the least severity that fails the run; `none` leaves it to the policy's modes. */
export const FAIL_ON = ['critical', 'high', 'medium', 'low', 'info', 'none'] as const satisfies readonly (Severity | 'none')[];
export type FailOn = (typeof FAIL_ON)[number];
