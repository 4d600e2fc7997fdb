/**
 * The `builder:` block (Kamal's `Configuration::Builder`), as far as the images depend on it:
 * `arch` as the platforms the app image is built for, and whether a build `context` is set.
 */
import type { Platform } from '../../types.js';
import { entry, isAbsent, isPresent, lazy, optionalMap, optionalSeq, wrongType } from '../fields.js';
import type { ConfigMap, ConfigNode } from '../yaml-tree.js';

export class Builder {
  private readonly readPlatforms: () => Platform[] | undefined;

  private constructor(readonly settings: ConfigMap) {
    this.readPlatforms = lazy(() => platforms(entry(settings, 'arch')));
  }

  /** The block at `node`; undefined when there is none. A block that is not a mapping is a ConfigError. */
  static read(node: ConfigNode | undefined): Builder | undefined {
    const settings = optionalMap(node, 'builder');
    return settings ? new Builder(settings) : undefined;
  }

  /** `builder.context` is set: Kamal builds from a clean checkout unless it is. */
  get hasContext(): boolean {
    return isPresent(entry(this.settings, 'context'));
  }

  /** `builder.arch` (a name or a list) as `linux/<arch>` platforms; undefined when not set. */
  get platforms(): Platform[] | undefined {
    return this.readPlatforms();
  }
}

function platforms(arch: ConfigNode | undefined): Platform[] | undefined {
  if (isAbsent(arch)) return undefined;
  const names = arch.kind === 'scalar' ? [arch] : (optionalSeq(arch, 'builder.arch')?.items ?? []);
  return names.map((n) => {
    if (n.kind !== 'scalar' || typeof n.value !== 'string' || n.value === '') {
      throw wrongType(n, 'builder.arch', 'amd64, arm64 or a list of them');
    }
    const [architecture, variant] = n.value.split('/', 2) as [string, string | undefined];
    return variant ? { os: 'linux', architecture, variant } : { os: 'linux', architecture };
  });
}
