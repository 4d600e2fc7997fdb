/**
 * Reads a Kamal 2 config the way Kamal does, without executing it (unless asked to render its ERB
 * with Ruby, `erb: 'ruby'`), and produces a DeployPlan.
 */
export { readDeployPlan, readDeployPlanAndConfig } from './plan.js';
export { loadConfig, overlayPath, DEFAULT_CONFIG_FILE, type LoadedConfig } from './config.js';
export { renderErb } from './erb.js';
export type { ErbMode } from './erb-ruby.js';
export { readSecrets } from './secrets.js';
export { parseDotenv } from './dotenv.js';
export { resolveVersion } from './version.js';
export { toPlain } from './yaml-tree.js';
