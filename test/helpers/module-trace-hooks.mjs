// Module customization hooks (see module-trace.mjs); they run on the loader thread.
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (process.env.KG_MODULE_TRACE) appendFileSync(process.env.KG_MODULE_TRACE, `${result.url}\n`);
  return result;
}
