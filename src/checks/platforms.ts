/**
 * The platforms check: `platforms.require` (platform.missing), every platform the servers run must
 * be offered; `builder` means the platforms the Kamal config builds for.
 */
import { formatPlatform, parsePlatform, samePlatform } from '../registry/manifest.js';
import type { ImageCheck } from './types.js';

export const platformsCheck: ImageCheck = {
  name: 'platforms',
  on: 'image',
  run(image, ctx) {
    const platforms = ctx.requirements.groups.platforms?.value;
    if (!platforms || platforms.mode === 'off') return { findings: [] };
    const { target } = image;
    const required = platforms.require === 'builder' ? (target.platforms ?? []) : platforms.require.map(parsePlatform);
    const offered = image.platforms.length ? image.platforms : image.platform ? [image.platform] : [];
    const missing = required.filter((p) => !offered.some((o) => samePlatform(o, p)));
    if (!missing.length) return { findings: [] };
    return {
      findings: [
        {
          rule: 'platform.missing',
          severity: 'high',
          target,
          digest: image.digest,
          message: `${image.ref} has no ${missing.map(formatPlatform).join(', ')} image (it offers ${offered.map(formatPlatform).join(', ') || 'none'})`,
          remedy: 'build and push the image for every platform the servers run (Kamal builder.arch)',
          evidence: { required: required.map(formatPlatform), offered: offered.map(formatPlatform) },
        },
      ],
    };
  },
};
