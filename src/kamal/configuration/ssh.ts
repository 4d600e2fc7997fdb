/**
 * The `ssh:` block (Kamal's `Configuration::Ssh`): how Kamal connects to the hosts (`user`, default
 * root; `port`, default 22; `proxy` (a jump host, `root@` unless a user is written) or
 * `proxy_command`; `keys`, `keys_only`, `config`) and keys written in the config (`key_data`).
 * Read leniently (a shape Kamal would refuse reads as not set).
 */
import { entry, locatedStrings, type Located } from '../fields.js';
import type { ConfigNode } from '../yaml-tree.js';

export class Ssh {
  private constructor(
    /** `key_data` items written as strings: secret names, or (with `-----BEGIN`) keys themselves. */
    readonly keyData: Array<Located<string>>,
    /** `proxy_command`, when a string. */
    readonly proxyCommand: Located<string> | undefined,
    /** `config` when it names an OpenSSH config file (a non-empty string). */
    readonly config: Located<string> | undefined,
    /** `user` when written (Kamal's default is root). */
    readonly user: Located<string> | undefined,
    /** `port` when written as a number or a string of digits (Kamal's default is 22). */
    readonly port: Located<number> | undefined,
    /** `proxy`: a jump host, `[user@]host[:port]`. */
    readonly proxy: Located<string> | undefined,
    /** `keys`: private key files. */
    readonly keys: Array<Located<string>>,
    /** `keys_only: true`: only the keys named, not the agent's. */
    readonly keysOnly: boolean,
  ) {}

  static read(node: ConfigNode | undefined): Ssh {
    if (node?.kind !== 'map') return new Ssh([], undefined, undefined, undefined, undefined, undefined, [], false);
    const string = (key: string, empty: boolean): Located<string> | undefined => {
      const v = entry(node, key);
      return v?.kind === 'scalar' && typeof v.value === 'string' && (empty || v.value !== '') ? { value: v.value, loc: v.loc } : undefined;
    };
    const portNode = entry(node, 'port');
    let port: Located<number> | undefined;
    if (portNode?.kind === 'scalar' && (typeof portNode.value === 'number' || (typeof portNode.value === 'string' && /^\d+$/.test(portNode.value)))) {
      port = { value: Number(portNode.value), loc: portNode.loc };
    }
    const keysOnly = entry(node, 'keys_only');
    return new Ssh(
      locatedStrings(entry(node, 'key_data')),
      string('proxy_command', true),
      string('config', false),
      string('user', false),
      port,
      string('proxy', false),
      locatedStrings(entry(node, 'keys')),
      keysOnly?.kind === 'scalar' && keysOnly.value === true,
    );
  }
}
