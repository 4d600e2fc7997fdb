/**
 * Reads a Kamal 2 config the way Kamal does, without executing it, and produces a DeployPlan.
 */
export { readDeployPlan, readDeployPlanAndConfig, type ReadOptions } from './plan.js';
export { loadConfig, overlayPath, DEFAULT_CONFIG_FILE, type LoadOptions, type LoadedConfig } from './config.js';
export { renderErb, type Env, type ErbOptions, type ErbResult } from './erb.js';
export { readSecrets, DEFAULT_SECRETS_PATH, type Secrets, type SecretsOptions, type SecretEntry } from './secrets.js';
export { parseDotenv } from './dotenv.js';
export { readRegistry, type CredentialContext, type RegistryBlock } from './credentials.js';
export { resolveVersion, type ResolvedVersion, type VersionOptions } from './version.js';
export { PROXY_DEFAULT_IMAGE, PROXY_MINIMUM_VERSION, PROXY_REPOSITORY } from './configuration/proxy.js';
export { Configuration } from './configuration/index.js';
export { toPlain, type ConfigMap, type ConfigNode } from './yaml-tree.js';
export type { Loc } from './source-map.js';
