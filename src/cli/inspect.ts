import { parseReference } from '../registry/reference.js';
import { inspectReport } from '../report/inspect-model.js';
import { renderStats } from '../report/text.js';
import { loadTargets, makeClient, parsePlatforms, type RegistryOptions } from './context.js';
import type { Io } from './io.js';

export async function inspectCommand(ref: string, opts: RegistryOptions & { format: 'text' | 'json'; stats?: boolean }, io: Io): Promise<number> {
  const started = performance.now();
  const parsed = parseReference(ref);
  // Inside a Kamal app, the config's registry credentials apply (loadTargets attaches them).
  const { targets } = await loadTargets([ref], {}, io);
  const client = await makeClient(opts, targets, io);
  try {
    const r = await client.resolve(parsed, parsePlatforms(opts.platform));
    const doc = inspectReport(parsed, r);
    if (opts.format === 'json') io.out(JSON.stringify(doc, null, 2) + '\n');
    else {
      const lines = [`Reference:    ${doc.ref}`, `Digest:       ${doc.digest}`, `Media type:   ${doc.mediaType}`];
      if (doc.platforms.length) lines.push(`Platforms:    ${doc.platforms.join(', ')}`);
      if (doc.platformDigest) lines.push(`Resolved:     ${doc.platform} → ${doc.platformDigest}`);
      if (doc.config) {
        lines.push(`Config:       ${doc.config.digest}`, `Created:      ${doc.config.created ?? '-'}`, `Layers:       ${doc.config.layers}`);
        const labels = Object.entries(doc.config.labels);
        lines.push(`Labels:${labels.length ? '' : '       -'}`);
        for (const [k, v] of labels) lines.push(`  ${k}=${v}`);
      }
      const ann = Object.entries(doc.annotations);
      lines.push(`Annotations:${ann.length ? '' : '  -'}`);
      for (const [k, v] of ann) lines.push(`  ${k}=${v}`);
      io.out(lines.join('\n') + '\n');
    }
    if (opts.stats) io.err(renderStats(client.stats.entries(), 1, performance.now() - started));
    return 0;
  } finally {
    await client.close();
  }
}
