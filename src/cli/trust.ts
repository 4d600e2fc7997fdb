/** `kamal-gate trust refresh`: the one online step, fetching the current Sigstore trusted root through TUF. */
import { EXIT } from '../errors.js';
import { refreshTrustedRoot } from '../signatures/trust.js';
import type { Io } from './io.js';

export async function trustRefreshCommand(opts: { cacheDir?: string; mirror?: string }, io: Io): Promise<number> {
  try {
    const { path } = await refreshTrustedRoot({ ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}), ...(opts.mirror ? { mirrorURL: opts.mirror } : {}) });
    io.out(`trusted root updated: ${path}\n`);
    return EXIT.ok;
  } catch (e) {
    io.err(`kamal-gate: could not refresh the Sigstore trusted root: ${e instanceof Error ? e.message : String(e)}; verification keeps using the root it has\n`);
    return EXIT.unverifiable;
  }
}
