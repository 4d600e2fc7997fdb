/**
 * Which hosts hold which image, from the Kamal config's typed view (destination overlay already
 * applied by the loader): the app image on every host of every role, an accessory's image on the
 * accessory's `host`/`hosts`/`role(s)`/`tag(s)`; and how to reach each host (Kamal's `ssh:`
 * settings). The proxy image is not checked on hosts: Kamal reads it on each host and a deploy does
 * not pull it.
 *
 * Inside a Kamal hook, `KAMAL_HOSTS` (comma-separated; what `kamal deploy --hosts/--roles` resolved
 * to, else every host) and `KAMAL_ROLES` (only with `-r`) restrict the hosts to exactly those Kamal
 * passes (Kamal's `Commander#hosts`/`#roles`, `Tags.from_config`).
 *
 * Host keys. Kamal connects with net-ssh and sets no `verify_host_key`, so net-ssh's default
 * applies: `:accept_new_or_local_tunnel` (a host seen for the first time is accepted and written to
 * ~/.ssh/known_hosts, a changed key is refused), unless the user's ~/.ssh/config says otherwise
 * (`StrictHostKeyChecking`, read by net-ssh when `ssh.config` is not false). kamal-gate runs the
 * OpenSSH client with `BatchMode=yes` and the user's known_hosts and does not override
 * `StrictHostKeyChecking`: whatever the user's ssh config says holds, and OpenSSH's default (`ask`,
 * which BatchMode turns into a refusal) refuses an unknown key. In the pre-deploy hook Kamal has
 * already connected to every host (the pull), so their keys are known; a changed key is refused
 * by both. kamal-gate never accepts a key Kamal would refuse.
 *
 * User and port. Kamal passes `user` (default root) and `port` (default 22) to net-ssh, where they
 * win over the user's ssh config. kamal-gate passes `-l <user>` always (root by default, as Kamal),
 * and `-p` only when `ssh.port` is written: without it the ssh config's `Port` applies (22 unless it
 * says otherwise), so a `Host` entry with its own port (a bastion-less test rig, a port-forward)
 * reaches the host kamal-gate is asked about.
 */
import { UsageError } from '../errors.js';
import type { Configuration } from '../kamal/configuration/index.js';
import type { Target } from '../types.js';

/** How to reach the hosts: Kamal's `ssh:` block. */
export interface SshSettings {
  /** `ssh.user`, default root. */
  user: string;
  /** `ssh.port`, when written (else the ssh config's or 22). */
  port?: number;
  /** `ssh.proxy`: a jump host (`root@` unless a user is written), for `-J`. */
  jump?: string;
  /** `ssh.proxy_command`, for `-o ProxyCommand=`: it runs locally, as Kamal runs it. */
  proxyCommand?: string;
  /** `ssh.keys`: identity files. */
  keys: string[];
  /** `ssh.keys_only`: only those keys (`IdentitiesOnly=yes`). */
  keysOnly: boolean;
  /** `ssh.config` when it names a file: `-F`. */
  configFile?: string;
}

/** One image and the hosts that must hold it. */
export interface ImageHosts {
  target: Target;
  hosts: string[];
}

/** Kamal's `ssh:` settings as the OpenSSH client takes them. */
export function sshSettings(config: Configuration): SshSettings {
  const ssh = config.ssh;
  const settings: SshSettings = { user: ssh.user?.value ?? 'root', keys: ssh.keys.map((k) => k.value), keysOnly: ssh.keysOnly };
  if (ssh.port) settings.port = ssh.port.value;
  if (ssh.proxy) settings.jump = ssh.proxy.value.includes('@') ? ssh.proxy.value : `root@${ssh.proxy.value}`;
  else if (ssh.proxyCommand) settings.proxyCommand = ssh.proxyCommand.value;
  if (ssh.config) settings.configFile = ssh.config.value;
  return settings;
}

/** The hosts and roles a Kamal hook was given: `KAMAL_HOSTS`, `KAMAL_ROLES` (undefined when not in a hook). */
function hookScope(env: NodeJS.ProcessEnv): { hosts?: Set<string>; roles?: Set<string> } {
  const list = (v: string | undefined): Set<string> | undefined =>
    v === undefined || v.trim() === ''
      ? undefined
      : new Set(
          v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        );
  const scope: { hosts?: Set<string>; roles?: Set<string> } = {};
  const hosts = list(env['KAMAL_HOSTS']);
  const roles = list(env['KAMAL_ROLES']);
  if (hosts) scope.hosts = hosts;
  if (roles) scope.roles = roles;
  return scope;
}

/**
 * For each target the hosts pull (not Kamal's `latest` alias, not the proxy), the hosts that hold it,
 * each once, in the order written; restricted to the hook's scope.
 */
export function imageHosts(config: Configuration, targets: readonly Target[], env: NodeJS.ProcessEnv): ImageHosts[] {
  const scope = hookScope(env);
  const inScope = (h: string): boolean => !scope.hosts || scope.hosts.has(h);
  const out: ImageHosts[] = [];
  for (const target of targets) {
    if (target.aliasOf || target.role === 'proxy') continue;
    let hosts: string[] = [];
    if (target.role === 'app') {
      const roles = config.servers.asWritten.filter((r) => !scope.roles || scope.roles.has(r.name));
      hosts = roles.flatMap((r) => r.hosts);
    } else {
      const accessory = config.accessories.find((a) => a.name === target.name);
      if (accessory) hosts = accessory.hosts(config.servers);
    }
    out.push({ target, hosts: [...new Set(hosts.filter(inScope))].map(checkHostName) });
  }
  return out;
}

/** A host as ssh's destination argument: not an option, no white space or control characters. */
export function checkHostName(host: string): string {
  if (host === '' || host.startsWith('-') || /[\s\p{Cc}]/u.test(host)) {
    throw new UsageError(`host ${JSON.stringify(host)} in the Kamal config is not a host name ssh can take; fix servers:/accessories: in the config`);
  }
  return host;
}
