import { table } from '../report/table.js';
import { loadTargets, type TargetOptions } from './context.js';
import type { Io } from './main.js';

export async function targetsCommand(opts: TargetOptions & { format: 'text' | 'json' }, io: Io): Promise<number> {
  const { plan, targets, notes } = await loadTargets([], opts, io.env);
  if (opts.format === 'json') {
    const doc = {
      schema: 'kamal-gate/targets/v1',
      config: plan?.configFile,
      destination: plan?.destination,
      version: plan?.version,
      versionSource: plan?.versionSource,
      targets: targets.map((t) => ({
        role: t.role,
        name: t.name,
        ref: t.ref,
        source: t.source,
        ...(t.aliasOf ? { aliasOf: t.aliasOf } : {}),
        ...(t.optional ? { optional: true } : {}),
        ...(t.platforms ? { platforms: t.platforms } : {}),
      })),
      notes,
    };
    io.out(JSON.stringify(doc, null, 2) + '\n');
    return 0;
  }
  const rows = targets.map((t) => [t.role, t.name, t.ref, t.source ? `${t.source.file}:${t.source.line}` : '-']);
  let out = table(['ROLE', 'NAME', 'IMAGE', 'SOURCE'], rows) + '\n';
  for (const n of notes) out += `note: ${n}\n`;
  io.out(out);
  return 0;
}
