/**
 * What a container gets of its host: the container runtime's socket mounted into it
 * (`config.docker_socket`), and privileged mode, added capabilities, devices, security profiles
 * turned off and host namespaces (`config.privileged`), from `volumes:` and `options:`.
 */
import type { Severity, Target } from '../../types.js';
import type { DockerOption, Volume } from '../configuration/docker-args.js';
import { isTruthy, type Located } from '../fields.js';
import { at, type Report, type RuleChecks } from './rule.js';

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

function socketFinding(report: Report, mount: Located<string>, where: string, target: Target): void {
  report({
    severity: 'critical',
    target,
    source: at(mount.loc),
    message: `${where} mounts the container runtime socket (${hostPathOf(mount.value)}) into the container: anything that runs in it controls every container on the host and the host itself`,
    remedy: 'remove the mount; if the container must talk to Docker, put a socket proxy that allows only the API calls it needs (read-only) in between',
    evidence: { where, mount: mount.value },
  });
}

/** Docker `--key value` options as Kamal passes them (`options:` keys, with or without dashes). */
function optionName(key: string): string {
  return key.replace(/^-+/, '').replace(/_/g, '-').toLowerCase();
}

function isMountOption(name: string): boolean {
  return name === 'volume' || name === 'v' || name === 'mount';
}

export const runtimeSocket: RuleChecks = {
  volume(report: Report, volume: Volume, target: Target): void {
    if (isRuntimeSocket(volume.value)) socketFinding(report, volume, volume.where, target);
  },
  option(report: Report, option: DockerOption, target: Target): void {
    if (!isMountOption(optionName(option.key))) return;
    for (const v of option.values) {
      if (typeof v.value === 'string' && isRuntimeSocket(v.value)) socketFinding(report, { value: v.value, loc: v.loc }, `${option.where}.${option.key}`, target);
    }
  },
};

/** Capabilities that amount to root on the host (or close to it). */
const DANGEROUS_CAPS = new Set(['ALL', 'SYS_ADMIN', 'SYS_PTRACE', 'SYS_MODULE', 'SYS_RAWIO', 'DAC_READ_SEARCH', 'NET_ADMIN', 'BPF', 'PERFMON', 'SYS_BOOT']);

const HOST_NAMESPACES = new Set(['pid', 'ipc', 'userns', 'uts', 'cgroupns', 'network', 'net']);

export const privileged: RuleChecks = {
  option(report: Report, option: DockerOption, target: Target): void {
    const { key, value, where } = option;
    const name = optionName(key);
    const loc = at(option.loc);
    const values = option.values.map((v) => String(v.value ?? ''));
    const priv = (severity: Severity, message: string, remedy: string) => report({ severity, target, source: loc, message: `${where}.${key}: ${message}`, remedy, evidence: { where, option: key } });

    if (isMountOption(name)) return; // config.docker_socket
    if (name === 'privileged') {
      if (isTruthy(value) && !(value.kind === 'scalar' && String(value.value).toLowerCase() === 'false')) {
        priv(
          'critical',
          'the container runs privileged (--privileged): every device, every capability, no seccomp or AppArmor; it can take the host',
          'remove privileged; add only the capability or device the service needs (cap-add, device) and say why',
        );
      }
      return;
    }
    if (name === 'cap-add') {
      const caps = values
        .flatMap((v) => v.split(','))
        .map((c) => c.trim().toUpperCase().replace(/^CAP_/, ''))
        .filter(Boolean);
      const bad = caps.filter((c) => DANGEROUS_CAPS.has(c));
      if (bad.length)
        priv(
          'high',
          `adds the capabilities ${bad.join(', ')}, which give the container control over the host`,
          'drop these capabilities; if one is truly needed, run the service on a host of its own',
        );
      else if (caps.length) priv('medium', `adds the capabilities ${caps.join(', ')}`, 'check each added capability is needed; remove the ones that are not');
      return;
    }
    if (name === 'device') {
      priv('medium', `gives the container the host device ${values.join(', ')}`, 'make sure the device is needed and is the narrowest one (a single device file, not /dev)');
      return;
    }
    if (name === 'security-opt') {
      const off = values.filter((v) => /(?:seccomp|apparmor)[=:]unconfined|label[=:]disable|no-new-privileges[=:]false|systempaths[=:]unconfined/i.test(v));
      if (off.length) priv('high', `turns a security profile off (${off.join(', ')})`, "remove the option so Docker's default seccomp/AppArmor/SELinux profiles apply");
      return;
    }
    if (HOST_NAMESPACES.has(name) && values.some((v) => v.toLowerCase() === 'host')) {
      priv(
        name === 'network' || name === 'net' ? 'medium' : 'high',
        `shares the host's ${name} namespace (--${name} host)`,
        `remove ${key}: host; the container should have its own ${name} namespace`,
      );
    }
  },
};
