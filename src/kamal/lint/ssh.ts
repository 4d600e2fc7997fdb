/**
 * SSH settings that hand the deploy to someone else: a private key written in `ssh.key_data`
 * (`config.literal_ssh_key`), and host key verification turned off in `ssh.proxy_command` or in the
 * OpenSSH config file `ssh.config` names (`config.ssh_host_key_unchecked`).
 */
import path from 'node:path';
import { ConfigError } from '../../errors.js';
import type { SourceLocation } from '../../types.js';
import { FILE_LIMITS, readUserText } from '../../user-file.js';
import type { Ssh } from '../configuration/ssh.js';
import { displayPath } from '../paths.js';
import { at, type AppFiles, type Report, type RuleChecks } from './rule.js';

/** OpenSSH settings (in a config file or `-o`) that switch host key verification off. */
const UNCHECKED_HOST_KEY = /\b(StrictHostKeyChecking)\s*[= ]\s*"?(no|off|false)\b|\b(UserKnownHostsFile)\s*[= ]\s*"?(\/dev\/null)\b/i;

function hostKeyFinding(report: Report, source: SourceLocation, what: string): void {
  report({
    severity: 'high',
    source,
    message: `${what} turns SSH host key verification off: whoever answers on the host's address gets the deploy, its secrets and the registry login`,
    remedy: "remove it and record the hosts' keys instead (ssh-keyscan HOST >> ~/.ssh/known_hosts once, checked against the provider's console; in CI, a known_hosts file from a secret)",
    evidence: { setting: what },
  });
}

export const literalSshKey: RuleChecks = {
  ssh(report: Report, ssh: Ssh): void {
    // Kamal takes each key_data item as a secret name, or as the key itself when it holds "-----BEGIN".
    for (const item of ssh.keyData) {
      if (!item.value.includes('-----BEGIN') || item.loc.erb) continue;
      report({
        severity: 'critical',
        source: at(item.loc),
        message: 'ssh.key_data holds a private key written in the config: anyone who can read the repository can log in to every host',
        remedy:
          'name a secret instead (key_data: [SSH_PRIVATE_KEY]) and set SSH_PRIVATE_KEY in .kamal/secrets from the environment or a password manager; then replace the key on the hosts, it is in the git history',
        evidence: { where: 'ssh.key_data' },
      });
    }
  },
};

export const sshHostKeyUnchecked: RuleChecks = {
  ssh(report: Report, ssh: Ssh): void {
    const cmd = ssh.proxyCommand;
    if (!cmd) return;
    const m = UNCHECKED_HOST_KEY.exec(cmd.value);
    if (m) hostKeyFinding(report, at(cmd.loc), `ssh.proxy_command (${m[1] ?? m[3]} ${m[2] ?? m[4]})`);
  },

  /** `ssh.config: PATH`: the OpenSSH config file Kamal (Net::SSH) loads; its host key settings apply. */
  async files(report: Report, app: AppFiles): Promise<string[]> {
    const config = app.config.ssh.config;
    if (!config) return [];
    if (config.value.startsWith('~')) return []; // the deployer's own file, not part of the app
    const abs = path.resolve(app.appRoot, config.value);
    const file = displayPath(abs, app.cwd);
    let text: string;
    try {
      text = await readUserText(abs, { limit: FILE_LIMITS.text, what: 'an SSH config file', refuse: (message) => new ConfigError(message, file) });
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      return [];
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const m = UNCHECKED_HOST_KEY.exec(line.replace(/#.*/, ''));
      if (m) hostKeyFinding(report, { file, line: i + 1 }, `${m[1] ?? m[3]} ${m[2] ?? m[4]} in the SSH config file ssh.config names (${config.loc.file}:${config.loc.line})`);
    });
    return [];
  },
};
