import { readFileSync } from 'node:fs';
import { EMBEDDED } from './embedded.js';

/** The package version, read once from package.json beside dist/ (embedded in the single-file build). */
export const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(EMBEDDED['package.json'] ?? readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
