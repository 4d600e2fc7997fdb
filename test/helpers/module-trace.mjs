// Loaded with `node --import` (through NODE_OPTIONS): appends the URL of every module the process
// resolves through the ES module loader to the file named by $KG_MODULE_TRACE. Tests use it to see
// which packages a command loads.
import { register } from 'node:module';

register(new URL('./module-trace-hooks.mjs', import.meta.url));
