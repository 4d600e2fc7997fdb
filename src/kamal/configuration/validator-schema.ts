/**
 * The keys Kamal 2 accepts in each section of a config, and what each holds, as the examples in
 * Kamal 2.12's lib/kamal/configuration/docs/*.yml give them (Kamal validates a config against those
 * examples: a key not in the example is unknown; a value is checked against the example value's type,
 * with the special cases of `Kamal::Configuration::Validator`). See validator-shape.ts for the checks.
 */
import type { Keys } from './validator-shape.js';

/** docs/configuration.yml. The `...` sections are only type-checked here and read by their own validator. */
export const ROOT_KEYS: Keys = {
  service: 'string',
  image: 'string',
  labels: 'labels',
  volumes: 'strings',
  registry: 'hash',
  servers: 'servers',
  env: 'hash',
  asset_path: 'string',
  hooks_path: 'string',
  hooks_output: 'hooksOutput',
  secrets_path: 'string',
  error_pages_path: 'string',
  require_destination: 'boolean',
  primary_role: 'string',
  allow_empty_roles: 'boolean',
  retain_containers: 'integer',
  minimum_version: 'string',
  readiness_delay: 'integer',
  deploy_timeout: 'integer',
  drain_timeout: 'integer',
  stop_timeout: 'integer',
  run_directory: 'string',
  ssh: 'hash',
  builder: 'hash',
  accessories: 'hash',
  proxy: 'proxy',
  sshkit: 'hash',
  boot: 'hash',
  logging: 'hash',
  output: 'hash',
  aliases: 'hash',
};

/** docs/builder.yml. */
export const BUILDER_KEYS: Keys = {
  arch: 'arch',
  remote: 'string',
  local: 'boolean',
  pack: { builder: 'string', buildpacks: 'strings' },
  cache: { type: 'string', options: 'string', image: 'string' },
  context: 'string',
  dockerfile: 'string',
  target: 'string',
  args: 'hash',
  secrets: 'strings',
  ssh: 'string',
  driver: 'string',
  provenance: 'string',
  sbom: 'boolean',
};

/** docs/role.yml (`servers.workers`), for a role written as a mapping. */
export const ROLE_KEYS: Keys = {
  hosts: 'hosts',
  cmd: 'string',
  stop_timeout: 'integer',
  options: 'hash',
  logging: 'hash',
  proxy: 'proxy',
  labels: 'labels',
  env: 'hash',
  asset_path: 'string',
};

/** docs/accessory.yml (`accessories.mysql`). */
export const ACCESSORY_KEYS: Keys = {
  service: 'string',
  image: 'string',
  registry: 'hash',
  host: 'string',
  hosts: 'hosts',
  role: 'string',
  roles: 'strings',
  tag: 'string',
  tags: 'strings',
  cmd: 'string',
  port: 'string',
  labels: 'labels',
  options: 'hash',
  env: 'hash',
  files: 'paths',
  directories: 'paths',
  volumes: 'strings',
  network: 'string',
  proxy: 'proxy',
};

/** docs/proxy.yml, for the root, a role's (alone and merged over the root) and an accessory's `proxy:`. */
export const PROXY_KEYS: Keys = {
  host: 'string',
  hosts: 'hosts',
  app_port: 'integer',
  ssl: 'ssl',
  ssl_redirect: 'boolean',
  forward_headers: 'boolean',
  response_timeout: 'integer',
  path_prefix: 'string',
  path_prefixes: 'strings',
  strip_path_prefix: 'boolean',
  healthcheck: { interval: 'integer', path: 'string', timeout: 'integer' },
  buffering: { requests: 'boolean', responses: 'boolean', max_request_body: 'integer', max_response_body: 'integer', memory: 'integer' },
  logging: { request_headers: 'strings', response_headers: 'strings' },
  run: {
    http_port: 'integer',
    https_port: 'integer',
    metrics_port: 'integer',
    debug: 'boolean',
    log_max_size: 'string',
    publish: 'boolean',
    bind_ips: 'strings',
    registry: 'string',
    repository: 'string',
    version: 'string',
    options: 'hash',
  },
};

/** docs/registry.yml, without `username` and `password`, which Kamal checks on their own. */
export const REGISTRY_KEYS: Keys = { server: 'string' };

/** docs/boot.yml. */
export const BOOT_KEYS: Keys = { limit: 'string', wait: 'integer', parallel_roles: 'boolean' };

/** docs/logging.yml, for the root and a role's `logging:`. */
export const LOGGING_KEYS: Keys = { driver: 'string', options: 'hash' };

/** docs/output.yml. */
export const OUTPUT_KEYS: Keys = { otel: { endpoint: 'string' }, file: { path: 'string' } };

/** docs/ssh.yml. */
export const SSH_KEYS: Keys = {
  user: 'string',
  port: 'string',
  proxy: 'string',
  proxy_command: 'string',
  log_level: 'string',
  keys_only: 'boolean',
  keys: 'strings',
  key_data: 'strings',
  config: 'sshConfig',
  forward_agent: 'boolean',
};

/** docs/sshkit.yml. */
export const SSHKIT_KEYS: Keys = { max_concurrent_starts: 'integer', pool_idle_timeout: 'integer', dns_retries: 'integer' };

/** `Kamal::Cli::Main.commands` in Kamal 2.12: an alias may not take one of these names. */
export const KAMAL_COMMANDS: readonly string[] = [
  'accessory',
  'app',
  'audit',
  'build',
  'config',
  'deploy',
  'details',
  'docs',
  'init',
  'lock',
  'proxy',
  'prune',
  'redeploy',
  'registry',
  'remove',
  'rollback',
  'secrets',
  'server',
  'setup',
  'upgrade',
  'version',
];
