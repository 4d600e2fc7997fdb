/**
 * Every check, in the order it runs: the target checks (config lint, ledger checkpoint, ledger) over
 * every target first, then the image checks on each resolved image. A new check is one module and
 * one entry here. The order is the order of an image's findings of equal weight in the report.
 */
import { baseCheck } from './base.js';
import { checkpointCheck } from './checkpoint.js';
import { configCheck } from './config.js';
import { configApprovalCheck } from './config-approval.js';
import { hostsCheck } from './hosts.js';
import { imageAgeCheck } from './image-age.js';
import { ledgerCheck } from './ledger.js';
import { platformsCheck } from './platforms.js';
import { signaturesCheck } from './signatures.js';
import { tagsCheck } from './tags.js';
import type { Check } from './types.js';

export const CHECKS: readonly Check[] = [configCheck, configApprovalCheck, checkpointCheck, ledgerCheck, tagsCheck, platformsCheck, imageAgeCheck, signaturesCheck, baseCheck, hostsCheck];
