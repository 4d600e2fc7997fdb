/**
 * Where a setting of the effective deploy was written: the key of `servers.web.cmd`,
 * `accessories.db.image` or `builder.args.RUBY_VERSION` in the merged config (base file or
 * destination overlay), found by walking the located view's tree along the setting's path. Keys that
 * hold dots (`labels.traefik.http.routers…`) are matched whole; `[n]` or a numeric segment indexes a
 * list. A setting the config does not spell out (a default Kamal fills in, a removed key) is placed at
 * the nearest enclosing key that is written; undefined when not even the first segment is.
 */
import type { Loc } from '../source-map.js';
import type { ConfigNode } from '../yaml-tree.js';
import type { Configuration } from './index.js';

/**
 * The config path of an effective-deploy setting (kamal/effective.ts), as segments: `defaults.X` is
 * the root `X`, the app's image (`images.app.…`) the root `image`, an accessory's
 * (`images.accessory.NAME`) `accessories.NAME.image`, `ssh.key_data_names` `ssh.key_data`.
 * `servers.web.volumes[0]` → `servers`, `web`, `volumes`, `0`.
 */
function segments(path: string): string[] {
  const configPath = path
    .replace(/^defaults\./, '')
    .replace(/^images\.app(\..*)?$/, 'image')
    .replace(/^images\.accessory\.(.+)$/, 'accessories.$1.image')
    .replace(/^images\.proxy(\..*)?$/, 'proxy')
    .replace(/^ssh\.key_data_names$/, 'ssh.key_data');
  return configPath
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((s) => s !== '');
}

/** The deepest key on `path` that the config writes, and where. */
export function settingLocation(config: Configuration, path: string): Loc | undefined {
  const parts = segments(path);
  let node: ConfigNode = config.root;
  let found: Loc | undefined;
  let i = 0;
  while (i < parts.length) {
    if (node.kind === 'seq') {
      const index = Number(parts[i]);
      const item: ConfigNode | undefined = Number.isInteger(index) ? node.items[index] : undefined;
      if (!item) break;
      found = item.loc;
      node = item;
      i += 1;
      continue;
    }
    if (node.kind !== 'map') break;
    // The longest run of segments that is one key: a key may itself hold dots.
    let matched = 0;
    for (let n = parts.length - i; n >= 1; n--) {
      const entry = node.entries.get(parts.slice(i, i + n).join('.'));
      if (entry) {
        found = entry.keyLoc;
        node = entry.value;
        matched = n;
        break;
      }
    }
    if (!matched) break;
    i += matched;
  }
  return found;
}
