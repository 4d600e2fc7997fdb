/**
 * kamal-gate as a library: `import { readDeployPlan, verifyImages, openLedger } from 'kamal-gate'`.
 *
 *   const plan = await readDeployPlan({ cwd: '/srv/app', destination: 'production' }); // the images a deploy pulls; no network
 *   const report = await verifyImages({ cwd: '/srv/app', destination: 'production' }); // what `kamal-gate verify` decides
 *   if (report.exitCode !== 0) console.error(report.images.filter((i) => i.findings?.some((f) => f.fails)));
 *   const ledger = await openLedger('/srv/app/.kamal/image-ledger.jsonl', { mustExist: true });
 *   try { console.log(await ledger.tags()); } finally { await ledger.close(); }
 *
 * What is exported here is the package's stable interface (semver); everything under dist/ beyond it
 * is internal. Failures are `KamalGateError`s: `exitCode` (2 usage or config, 3 could not verify),
 * `kind`, and a message that says what to do.
 */
export { verifyImages, type VerifyImagesOptions } from './api.js';
export { readDeployPlan, type ReadOptions as ReadDeployPlanOptions } from './kamal/plan.js';
export { openLedger } from './ledger/index.js';
export type { ChainReport, Ledger, LedgerEntry, LedgerEvent, LedgerOptions, LedgerRole, LedgerSource, TagRef } from './ledger/types.js';
export { VERIFY_SCHEMA, type FindingReport, type ImageReport, type VerifyReport } from './report/model.js';
export type { BaseSummary, DeployPlan, Platform, RegistryCredential, Role, Severity, SourceLocation, Target } from './types.js';
export { EXIT, KamalGateError, isKamalGateError } from './errors.js';
export { VERSION } from './version.js';
