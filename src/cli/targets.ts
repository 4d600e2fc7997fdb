import { table } from '../report/table.js';
import { targetsReport } from '../report/targets-model.js';
import { loadTargets, type TargetOptions } from './context.js';
import type { Io } from './io.js';

export async function targetsCommand(opts: TargetOptions & { format: 'text' | 'json' }, io: Io): Promise<number> {
  const { plan, config, targets, notes } = await loadTargets([], opts, io);
  if (opts.format === 'json') {
    io.out(JSON.stringify(targetsReport(plan, targets, notes, config?.erb === 'ruby' ? 'ruby' : undefined), null, 2) + '\n');
    return 0;
  }
  const rows = targets.map((t) => [t.role, t.name, t.ref, t.source ? `${t.source.file}:${t.source.line}` : '-']);
  let out = table(['ROLE', 'NAME', 'IMAGE', 'SOURCE'], rows) + '\n';
  for (const n of notes) out += `note: ${n}\n`;
  io.out(out);
  return 0;
}
