/**
 * The `ssh:` block (Kamal's `Configuration::Ssh`), as far as it bears on host key checks and keys
 * written in the config: `key_data`, `proxy_command` and `config`. Read leniently (a shape Kamal
 * would refuse reads as not set).
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
  ) {}

  static read(node: ConfigNode | undefined): Ssh {
    if (node?.kind !== 'map') return new Ssh([], undefined, undefined);
    const string = (key: string, empty: boolean): Located<string> | undefined => {
      const v = entry(node, key);
      return v?.kind === 'scalar' && typeof v.value === 'string' && (empty || v.value !== '') ? { value: v.value, loc: v.loc } : undefined;
    };
    return new Ssh(locatedStrings(entry(node, 'key_data')), string('proxy_command', true), string('config', false));
  }
}
