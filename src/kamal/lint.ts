/**
 * Config lint: dangerous settings in a Kamal config and the files beside it, each a Finding with
 * the file and line to fix. Reads only: nothing from the config is executed, and the only process
 * started is `git ls-files` (an argument array, no shell) to learn which secret files git tracks.
 *
 * A finding never carries a secret value: messages name the key, the file and the line.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { Finding, Severity, SourceLocation, Target } from '../types.js';
import { FILE_LIMITS, readUserText } from '../user-file.js';
import { entry, isAbsent, isTruthy } from './fields.js';
import { DEFAULT_SECRETS_PATH } from './secrets.js';
import type { Loc } from './source-map.js';
import { displayPath } from './paths.js';
import type { ConfigMap, ConfigNode, ConfigScalar } from './yaml-tree.js';

export const LINT_RULES = {
  dockerSocket: 'config.docker_socket',
  privileged: 'config.privileged',
  secretInClearEnv: 'config.secret_in_clear_env',
  literalRegistryPassword: 'config.literal_registry_password',
  secretsTracked: 'config.secrets_tracked',
  sshHostKeyUnchecked: 'config.ssh_host_key_unchecked',
  literalSshKey: 'config.literal_ssh_key',
  imageLatest: 'config.image_latest',
  accessoryUnpinned: 'config.accessory_unpinned',
} as const;

/** What each lint rule finds, for reports (SARIF rule descriptions, `lint --format json`). */
export const LINT_RULE_DESCRIPTIONS: Record<string, string> = {
  'config.docker_socket': 'A container mounts the Docker (or containerd/podman) socket, which gives it root on the host',
  'config.privileged': 'A container runs privileged, with added capabilities, host namespaces, devices or security profiles turned off',
  'config.secret_in_clear_env': 'A secret is written in env.clear, so it is in the repository and in docker inspect',
  'config.literal_registry_password': 'The registry password is written in the Kamal config instead of naming a secret',
  'config.secrets_tracked': 'A secrets or .env file with literal secret values is tracked by git',
  'config.ssh_host_key_unchecked': 'SSH host key verification is turned off, so a man in the middle can take the deploy',
  'config.literal_ssh_key': 'A private SSH key is written in the Kamal config (ssh.key_data) instead of naming a secret',
  'config.image_latest': 'An image is deployed by the latest tag (or no tag), whatever was pushed last',
  'config.accessory_unpinned': 'An accessory image is referenced by a mutable tag, not pinned by digest',
};

export interface LintInput {
  /** The merged config tree (kamal/config.ts loadConfig). */
  root: ConfigMap;
  /** The deploy plan's targets: findings are attached to the image they concern. */
  targets: Target[];
}

function at(loc: Loc): SourceLocation {
  return { file: loc.file, line: loc.line, column: loc.column };
}

interface Ctx {
  findings: Finding[];
  app: Target;
  accessory: (name: string) => Target;
}

function add(ctx: Ctx, f: Omit<Finding, 'target'> & { target?: Target; source: SourceLocation }): void {
  ctx.findings.push({ ...f, target: f.target ?? ctx.app });
}

/** The findings the config tree itself gives (no I/O). */
export function lintConfig(input: LintInput): Finding[] {
  const { root, targets } = input;
  const app = targets.find((t) => t.role === 'app' && !t.aliasOf) ?? targets[0];
  if (!app) return [];
  const ctx: Ctx = {
    findings: [],
    app,
    accessory: (name) => targets.find((t) => t.role === 'accessory' && t.name === name) ?? app,
  };

  // Root volumes and env apply to every role.
  checkVolumes(ctx, entry(root, 'volumes'), 'volumes', app);
  checkEnv(ctx, entry(root, 'env'), 'env', app);

  const servers = entry(root, 'servers');
  if (servers?.kind === 'map') {
    for (const [role, { value }] of servers.entries) {
      if (value.kind !== 'map') continue; // a list of hosts
      checkOptions(ctx, entry(value, 'options'), `servers.${role}.options`, app);
      checkEnv(ctx, entry(value, 'env'), `servers.${role}.env`, app);
    }
  }

  checkRegistryPassword(ctx, entry(root, 'registry'), 'registry', app);

  const accessories = entry(root, 'accessories');
  if (accessories?.kind === 'map') {
    for (const [name, { value }] of accessories.entries) {
      if (value.kind !== 'map') continue;
      const target = ctx.accessory(name);
      checkOptions(ctx, entry(value, 'options'), `accessories.${name}.options`, target);
      checkVolumes(ctx, entry(value, 'volumes'), `accessories.${name}.volumes`, target);
      checkEnv(ctx, entry(value, 'env'), `accessories.${name}.env`, target);
      checkRegistryPassword(ctx, entry(value, 'registry'), `accessories.${name}.registry`, target);
    }
  }

  checkSshProxyCommand(ctx, entry(root, 'ssh'));
  checkImages(ctx, targets);
  return ctx.findings;
}

// ── docker socket ──────────────────────────────────────────────────────────────────────────────

/** Host paths that hand a container the container runtime (and so root on the host). */
const RUNTIME_SOCKET = /(?:^|\/)(?:docker|containerd|podman|crio)\.sock$|^\/(?:var\/)?run\/(?:docker|containerd|podman)\/?$/;

/** The host side of a `-v`/`volumes:` string (`host:container[:opts]`) or a `--mount` spec's source. */
function hostPathOf(spec: string): string {
  if (/(?:^|,)(?:type=)/.test(spec) || /(?:^|,)(?:source|src)=/.test(spec)) {
    const m = /(?:^|,)(?:source|src)=([^,]*)/.exec(spec);
    return m?.[1] ?? '';
  }
  return spec.split(':')[0] ?? '';
}

function isRuntimeSocket(spec: string): boolean {
  const host = hostPathOf(spec.trim()).replace(/\/+$/, (s) => (s.length ? '/' : ''));
  return RUNTIME_SOCKET.test(host);
}

function socketFinding(ctx: Ctx, node: ConfigScalar, where: string, target: Target): void {
  add(ctx, {
    rule: LINT_RULES.dockerSocket,
    severity: 'critical',
    target,
    source: at(node.loc),
    message: `${where} mounts the container runtime socket (${hostPathOf(String(node.value))}) into the container: anything that runs in it controls every container on the host and the host itself`,
    remedy: 'remove the mount; if the container must talk to Docker, put a socket proxy that allows only the API calls it needs (read-only) in between',
    evidence: { where, mount: String(node.value) },
  });
}

function scalars(node: ConfigNode | undefined): ConfigScalar[] {
  if (isAbsent(node)) return [];
  if (node.kind === 'scalar') return [node];
  if (node.kind === 'seq') return node.items.filter((i): i is ConfigScalar => i.kind === 'scalar');
  return [];
}

function checkVolumes(ctx: Ctx, node: ConfigNode | undefined, where: string, target: Target): void {
  for (const s of scalars(node)) {
    if (typeof s.value === 'string' && isRuntimeSocket(s.value)) socketFinding(ctx, s, where, target);
  }
}

// ── privileged and capability options ──────────────────────────────────────────────────────────

/** Capabilities that amount to root on the host (or close to it). */
const DANGEROUS_CAPS = new Set(['ALL', 'SYS_ADMIN', 'SYS_PTRACE', 'SYS_MODULE', 'SYS_RAWIO', 'DAC_READ_SEARCH', 'NET_ADMIN', 'BPF', 'PERFMON', 'SYS_BOOT']);

/** Docker `--key value` options as Kamal passes them (`options:` keys, with or without dashes). */
function optionName(key: string): string {
  return key.replace(/^-+/, '').replace(/_/g, '-').toLowerCase();
}

function checkOptions(ctx: Ctx, node: ConfigNode | undefined, where: string, target: Target): void {
  if (node?.kind !== 'map') return;
  for (const [key, { keyLoc, value }] of node.entries) {
    const name = optionName(key);
    const loc = at(value.kind === 'scalar' && value.value !== null ? value.loc : keyLoc);
    const values = scalars(value).map((s) => String(s.value ?? ''));
    const priv = (severity: Severity, message: string, remedy: string) =>
      add(ctx, { rule: LINT_RULES.privileged, severity, target, source: loc, message: `${where}.${key}: ${message}`, remedy, evidence: { where, option: key } });

    if (name === 'volume' || name === 'v' || name === 'mount') {
      for (const s of scalars(value)) {
        if (typeof s.value === 'string' && isRuntimeSocket(s.value)) socketFinding(ctx, s, `${where}.${key}`, target);
      }
      continue;
    }
    if (name === 'privileged') {
      if (isTruthy(value) && !(value.kind === 'scalar' && String(value.value).toLowerCase() === 'false')) {
        priv('critical', 'the container runs privileged (--privileged): every device, every capability, no seccomp or AppArmor; it can take the host', 'remove privileged; add only the capability or device the service needs (cap-add, device) and say why');
      }
      continue;
    }
    if (name === 'cap-add') {
      const caps = values.flatMap((v) => v.split(',')).map((c) => c.trim().toUpperCase().replace(/^CAP_/, '')).filter(Boolean);
      const bad = caps.filter((c) => DANGEROUS_CAPS.has(c));
      if (bad.length) priv('high', `adds the capabilities ${bad.join(', ')}, which give the container control over the host`, 'drop these capabilities; if one is truly needed, run the service on a host of its own');
      else if (caps.length) priv('medium', `adds the capabilities ${caps.join(', ')}`, 'check each added capability is needed; remove the ones that are not');
      continue;
    }
    if (name === 'device') {
      priv('medium', `gives the container the host device ${values.join(', ')}`, 'make sure the device is needed and is the narrowest one (a single device file, not /dev)');
      continue;
    }
    if (name === 'security-opt') {
      const off = values.filter((v) => /(?:seccomp|apparmor)[=:]unconfined|label[=:]disable|no-new-privileges[=:]false|systempaths[=:]unconfined/i.test(v));
      if (off.length) priv('high', `turns a security profile off (${off.join(', ')})`, 'remove the option so Docker\'s default seccomp/AppArmor/SELinux profiles apply');
      continue;
    }
    if (name === 'pid' || name === 'ipc' || name === 'userns' || name === 'uts' || name === 'cgroupns' || name === 'network' || name === 'net') {
      if (values.some((v) => v.toLowerCase() === 'host')) {
        priv(
          name === 'network' || name === 'net' ? 'medium' : 'high',
          `shares the host's ${name} namespace (--${name} host)`,
          `remove ${key}: host; the container should have its own ${name} namespace`,
        );
      }
    }
  }
}

// ── secrets in env.clear ───────────────────────────────────────────────────────────────────────

/** Variable names that hold secrets by convention. */
const SECRET_NAME = /(?:^|_)(?:PASSWORD|PASSWD|PASS|SECRET|SECRETS|TOKEN|APIKEY|API_KEY|PRIVATE_KEY|ACCESS_KEY|SECRET_KEY|MASTER_KEY|KEY_BASE|CREDENTIALS?|SIGNING_KEY|ENCRYPTION_KEY|CLIENT_SECRET|WEBHOOK_URL|KEY)(?:_|$)/i;
/** Names that look like secrets but are not (identifiers, public halves, sizes, paths). */
const NOT_SECRET_NAME = /(?:^|_)(?:PUBLIC|PUBLISHABLE|ID|IDS|FILE|PATH|DIR|LENGTH|MIN|MAX|SIZE|TTL|EXPIRY|EXPIRES|URL_HOST|ALGORITHM|TYPE|USER|USERNAME|NAME|ENABLED|REQUIRED|HEADER|FORMAT)$/i;

/** Well-known secret formats (prefixes issuers put on their tokens). */
const SECRET_VALUE_PATTERNS: Array<[string, RegExp]> = [
  ['a GitHub token', /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/],
  ['a GitLab token', /\bglpat-[A-Za-z0-9_-]{20,}/],
  ['an AWS access key id', /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/],
  ['a Stripe secret key', /\b(?:sk|rk)_live_[A-Za-z0-9]{16,}/],
  ['a Slack token', /\bxox[abprs]-[A-Za-z0-9-]{10,}/],
  ['a Slack webhook URL', /hooks\.slack\.com\/services\/[A-Za-z0-9/]+/],
  ['a Google API key', /\bAIza[0-9A-Za-z_-]{35}\b/],
  ['a SendGrid key', /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/],
  ['an OpenAI key', /\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}/],
  ['a private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['a URL with a password', /[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:[^\s@/]+@/i],
];

/** Shannon entropy in bits per character. */
function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Why a value looks like a secret, or undefined. Long random-looking strings count too. */
export function secretValueKind(value: string): string | undefined {
  for (const [kind, re] of SECRET_VALUE_PATTERNS) if (re.test(value)) return kind;
  const v = value.trim();
  if (v.length >= 24 && !/\s/.test(v) && !/^(?:https?|file):\/\//i.test(v) && !v.includes('/') && entropy(v) >= 4.2) {
    const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((re) => re.test(v)).length;
    if (classes >= 2 || /^[0-9a-f]{32,}$/i.test(v)) return 'a high-entropy string';
  }
  if (/^[0-9a-f]{32,}$/i.test(v)) return 'a long hex string';
  return undefined;
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}

/** Values that say "nothing here" rather than a secret. */
function isPlaceholder(value: string): boolean {
  const v = value.trim().toLowerCase();
  return v === '' || v === 'true' || v === 'false' || v === 'null' || v === 'nil' || v === 'none' || /^(?:changeme|change-me|xxx+|\*+|<.*>|example|placeholder|dummy|test)$/.test(v);
}

function checkClear(ctx: Ctx, node: ConfigNode | undefined, where: string, target: Target): void {
  if (node?.kind !== 'map') return;
  for (const [key, { value }] of node.entries) {
    if (value.kind !== 'scalar' || value.value === null || typeof value.value === 'boolean') continue;
    // A value an ERB ENV lookup produced is not written in the file.
    if (value.loc.erb) continue;
    const text = String(value.value);
    if (isPlaceholder(text)) continue;
    const kind = secretValueKind(text);
    const byName = isSecretName(key);
    if (!kind && !byName) continue;
    add(ctx, {
      rule: LINT_RULES.secretInClearEnv,
      severity: 'high',
      target,
      source: at(value.loc),
      message: `${where}.${key} is written in the config in clear${kind ? ` and its value looks like ${kind}` : ' and its name says it is a secret'}: it is in the repository and visible to anyone who can run docker inspect`,
      remedy: `move ${key} to env.secret (a list of names) and put ${key}=$${key} (or a password manager lookup) in .kamal/secrets; then rotate the value, it is already in the git history`,
      evidence: { where, key, ...(kind ? { looksLike: kind } : {}) },
    });
  }
}

/** `env:` is `{clear:, secret:, tags:}` or a plain mapping of clear variables. */
function checkEnv(ctx: Ctx, node: ConfigNode | undefined, where: string, target: Target): void {
  if (node?.kind !== 'map') return;
  const structured = ['clear', 'secret', 'tags'].some((k) => node.entries.has(k));
  if (!structured) return checkClear(ctx, node, where, target);
  checkClear(ctx, entry(node, 'clear'), `${where}.clear`, target);
  const tags = entry(node, 'tags');
  if (tags?.kind === 'map') {
    for (const [tag, { value }] of tags.entries) checkEnv(ctx, value, `${where}.tags.${tag}`, target);
  }
}

// ── registry password ──────────────────────────────────────────────────────────────────────────

function checkRegistryPassword(ctx: Ctx, node: ConfigNode | undefined, where: string, target: Target): void {
  if (node?.kind !== 'map') return;
  const password = entry(node, 'password');
  if (password?.kind !== 'scalar' || typeof password.value !== 'string' || password.value === '') return;
  if (password.loc.erb) return; // <%= ENV["…"] %>: read from the environment, not written here
  add(ctx, {
    rule: LINT_RULES.literalRegistryPassword,
    severity: 'high',
    target,
    source: at(password.loc),
    message: `${where}.password is written in the config: the registry password is in the repository for anyone who can read it`,
    remedy: `name a secret instead (${where}.password: [KAMAL_REGISTRY_PASSWORD]) and put KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD in .kamal/secrets; then revoke the password, it is in the git history`,
    evidence: { where: `${where}.password` },
  });
}

// ── ssh ────────────────────────────────────────────────────────────────────────────────────────

/** OpenSSH settings (in a config file or `-o`) that switch host key verification off. */
const UNCHECKED_HOST_KEY = /\b(StrictHostKeyChecking)\s*[= ]\s*"?(no|off|false)\b|\b(UserKnownHostsFile)\s*[= ]\s*"?(\/dev\/null)\b/i;

function sshFinding(ctx: Ctx, source: SourceLocation, what: string): void {
  add(ctx, {
    rule: LINT_RULES.sshHostKeyUnchecked,
    severity: 'high',
    source,
    message: `${what} turns SSH host key verification off: whoever answers on the host's address gets the deploy, its secrets and the registry login`,
    remedy: 'remove it and record the hosts\' keys instead (ssh-keyscan HOST >> ~/.ssh/known_hosts once, checked against the provider\'s console; in CI, a known_hosts file from a secret)',
    evidence: { setting: what },
  });
}

function checkSshProxyCommand(ctx: Ctx, ssh: ConfigNode | undefined): void {
  if (ssh?.kind !== 'map') return;
  // Kamal takes each key_data item as a secret name, or as the key itself when it holds "-----BEGIN".
  for (const item of scalars(entry(ssh, 'key_data'))) {
    if (typeof item.value !== 'string' || !item.value.includes('-----BEGIN') || item.loc.erb) continue;
    add(ctx, {
      rule: LINT_RULES.literalSshKey,
      severity: 'critical',
      source: at(item.loc),
      message: 'ssh.key_data holds a private key written in the config: anyone who can read the repository can log in to every host',
      remedy: 'name a secret instead (key_data: [SSH_PRIVATE_KEY]) and set SSH_PRIVATE_KEY in .kamal/secrets from the environment or a password manager; then replace the key on the hosts, it is in the git history',
      evidence: { where: 'ssh.key_data' },
    });
  }
  const cmd = entry(ssh, 'proxy_command');
  if (cmd?.kind === 'scalar' && typeof cmd.value === 'string') {
    const m = UNCHECKED_HOST_KEY.exec(cmd.value);
    if (m) sshFinding(ctx, at(cmd.loc), `ssh.proxy_command (${m[1] ?? m[3]} ${m[2] ?? m[4]})`);
  }
}

/** `ssh.config: PATH`: the OpenSSH config file Kamal (Net::SSH) loads; its host key settings apply. */
async function lintSshConfigFile(ctx: Ctx, root: ConfigMap, appRoot: string, cwd: string): Promise<void> {
  const ssh = entry(root, 'ssh');
  if (ssh?.kind !== 'map') return;
  const config = entry(ssh, 'config');
  if (config?.kind !== 'scalar' || typeof config.value !== 'string' || config.value === '') return;
  if (config.value.startsWith('~')) return; // the deployer's own file, not part of the app
  const abs = path.resolve(appRoot, config.value);
  const file = displayPath(abs, cwd);
  let text: string;
  try {
    text = await readUserText(abs, { limit: FILE_LIMITS.text, what: 'an SSH config file', refuse: (message) => new ConfigError(message, file) });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    return;
  }
  text.split(/\r?\n/).forEach((line, i) => {
    const m = UNCHECKED_HOST_KEY.exec(line.replace(/#.*/, ''));
    if (m) sshFinding(ctx, { file, line: i + 1 }, `${m[1] ?? m[3]} ${m[2] ?? m[4]} in the SSH config file ssh.config names (${config.loc.file}:${config.loc.line})`);
  });
}

// ── images ─────────────────────────────────────────────────────────────────────────────────────

/** The tag of a reference as written, or undefined when it has none; `digest` when pinned. */
function tagOf(ref: string): { tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  const digest = at === -1 ? undefined : ref.slice(at + 1);
  const name = at === -1 ? ref : ref.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const tag = colon > slash ? name.slice(colon + 1) : undefined;
  return { ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

function checkImages(ctx: Ctx, targets: Target[]): void {
  for (const t of targets) {
    if (t.role === 'app' || !t.source) continue;
    const { tag, digest } = tagOf(t.ref);
    if (digest) continue;
    const what = t.role === 'accessory' ? `accessories.${t.name}.image` : 'the kamal-proxy image';
    if (tag === undefined || tag === 'latest') {
      add(ctx, {
        rule: LINT_RULES.imageLatest,
        severity: 'medium',
        target: t,
        source: t.source,
        message: `${what} ${t.ref} ${tag ? 'uses the latest tag' : 'has no tag, so Docker pulls latest'}: each host runs whatever was pushed last when it booted`,
        remedy: `name a version and pin it by digest: ${t.ref.replace(/:latest$/, '')}:<version>@sha256:… (kamal-gate verify prints the digest)`,
        evidence: { ref: t.ref },
      });
    } else if (t.role === 'accessory') {
      add(ctx, {
        rule: LINT_RULES.accessoryUnpinned,
        severity: 'medium',
        target: t,
        source: t.source,
        message: `${what} ${t.ref} is not pinned by digest: the tag can be moved to another image, and accessories are not re-checked on deploy`,
        remedy: `pin it: ${t.ref}@sha256:<digest> (kamal-gate verify prints the digest under Pinned)`,
        evidence: { ref: t.ref },
      });
    }
  }
}

// ── files tracked by git ───────────────────────────────────────────────────────────────────────

export interface GitFiles {
  /** Tracked paths relative to the app root, or undefined with the reason they could not be listed. */
  files?: string[];
  skipped?: string;
}

/**
 * `git ls-files` in the app root, which git prints relative to that folder (also when the
 * repository's top is above it); never throws.
 */
export function gitTrackedFiles(appRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<GitFiles> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['-C', appRoot, 'ls-files', '-z', '--', '.'],
      { env: { ...env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 64 * 1024 * 1024, windowsHide: true },
      (error, stdout, stderr) => {
        if (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') return resolve({ skipped: 'git is not installed: skipped' });
          if (/not a git repository/i.test(String(stderr))) return resolve({ skipped: 'not a git repository: skipped' });
          return resolve({ skipped: `git ls-files failed: skipped (${String(stderr).trim().split('\n')[0] ?? error.message})` });
        }
        resolve({ files: stdout.split('\0').filter(Boolean) });
      },
    );
  });
}

function isSecretsFile(rel: string, secretsPath: string): boolean {
  const p = rel.split(path.sep).join('/');
  const base = secretsPath.replace(/^\.\//, '');
  return p === base || p.startsWith(`${base}-`) || p.startsWith(`${base}.`) || /^\.kamal\/secrets(?:[-.][^/]*)?$/.test(p);
}

function isEnvFile(rel: string): boolean {
  const name = path.basename(rel);
  return /^\.env(?:\.[^/]+)?$/.test(name) && !/\.(?:example|sample|template|dist|defaults?)$/i.test(name);
}

/** A dotenv value as written: true when it holds characters besides `$VAR`, `${VAR}` and `$(command)`. */
export function isLiteralDotenvValue(raw: string): boolean {
  let v = raw.trim();
  if (v === '') return false;
  if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) return !isPlaceholder(v.slice(1, -1)); // no expansion in single quotes
  if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
  // Command substitutions (with nested parentheses), then variables.
  let prev;
  do {
    prev = v;
    v = v.replace(/\$\([^()]*\)/g, '');
  } while (v !== prev);
  v = v.replace(/\$\{[A-Za-z0-9_]*\}|\$[A-Za-z0-9_]+/g, '').trim();
  return !isPlaceholder(v);
}

async function lintTrackedSecrets(ctx: Ctx, appRoot: string, cwd: string, secretsPath: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const tracked = await gitTrackedFiles(appRoot, env);
  if (!tracked.files) return [`secrets files tracked by git: ${tracked.skipped ?? 'skipped'}`];
  for (const rel of tracked.files) {
    const secretsFile = isSecretsFile(rel, secretsPath);
    if (!secretsFile && !isEnvFile(rel)) continue;
    const abs = path.resolve(appRoot, rel);
    const file = displayPath(abs, cwd);
    let text: string;
    try {
      text = await readUserText(abs, { limit: FILE_LIMITS.text, what: 'a secrets or .env file', refuse: (message) => new ConfigError(message, file) });
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      continue; // tracked but deleted in the work tree
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const m = /^\s*(?:export\s+)?([\w.]+)\s*(?:=|:\s)\s*(.*?)\s*$/.exec(line);
      if (!m || line.trimStart().startsWith('#')) return;
      const key = m[1]!;
      const raw = m[2]!.replace(/\s+#.*$/, '');
      if (!isLiteralDotenvValue(raw)) return;
      // In Kamal's secrets files every value is a secret; in .env files, those that look like one.
      const kind = secretValueKind(raw.replace(/^['"]|['"]$/g, ''));
      if (!secretsFile && !kind && !isSecretName(key)) return;
      add(ctx, {
        rule: LINT_RULES.secretsTracked,
        severity: 'critical',
        source: { file, line: i + 1 },
        message: `${file} is tracked by git and sets ${key} to a literal value${kind ? ` that looks like ${kind}` : ''}: the secret is in the repository and its history`,
        remedy: `write ${key}=$${key} (taken from the environment) or a password manager lookup such as $(kamal secrets fetch …) instead, ${secretsFile ? '' : `or stop tracking the file (git rm --cached ${rel} and add it to .gitignore), `}and rotate the value: it stays in the git history`,
        evidence: { file, key, ...(kind ? { looksLike: kind } : {}) },
      });
    });
  }
  return [];
}

// ── everything ─────────────────────────────────────────────────────────────────────────────────

export interface LintAppOptions extends LintInput {
  /** The folder holding config/ and .kamal/: where Kamal runs and where git is asked. */
  appRoot: string;
  /** File names in findings are relative to this folder (default: appRoot). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface LintResult {
  findings: Finding[];
  /** What the user should know (a check that could not run). */
  notes: string[];
}

/** The config tree's findings plus those of files beside it (git-tracked secrets, the SSH config file). */
export async function lintApp(opts: LintAppOptions): Promise<LintResult> {
  const findings = lintConfig(opts);
  const app = opts.targets.find((t) => t.role === 'app' && !t.aliasOf) ?? opts.targets[0];
  if (!app) return { findings, notes: [] };
  const ctx: Ctx = { findings, app, accessory: () => app };
  const cwd = opts.cwd ?? opts.appRoot;
  const env = opts.env ?? process.env;
  await lintSshConfigFile(ctx, opts.root, opts.appRoot, cwd);
  const sp = entry(opts.root, 'secrets_path');
  const secretsPath = sp?.kind === 'scalar' && typeof sp.value === 'string' && sp.value ? sp.value : DEFAULT_SECRETS_PATH;
  const notes = await lintTrackedSecrets(ctx, opts.appRoot, cwd, secretsPath, env);
  return { findings, notes };
}
