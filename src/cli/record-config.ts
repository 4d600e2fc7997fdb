/**
 * What `kamal-gate record` does with the Kamal config itself: the effective deploy
 * (kamal/effective.ts) of this version and destination is approved in the ledger when it differs
 * from the one approved last for the destination. `--approve-config FINGERPRINT` approves only that
 * exact fingerprint: a different effective deploy is refused (exit 1), nothing approved.
 */
import { configFingerprint, effectiveDeploy } from '../kamal/effective.js';
import type { LoadedConfig } from '../kamal/config.js';
import { approvedConfig, configApprovalEntry } from '../ledger/config-approval.js';
import type { Ledger, NewEntry } from '../ledger/types.js';
import type { DeployPlan } from '../types.js';

export interface ConfigDecision {
  /** The entry to append, when the config is approved now. */
  entry?: NewEntry;
  /** The fingerprint does not match --approve-config. */
  refused: boolean;
  /** A line for the text output. */
  line: string;
}

export async function decideConfig(ledger: Ledger, loaded: { plan: DeployPlan; config: LoadedConfig }, approve: string | undefined, actor: string | undefined): Promise<ConfigDecision> {
  const { plan } = loaded;
  const document = effectiveDeploy(loaded);
  const fingerprint = configFingerprint(document);
  const where = `${plan.service}${plan.destination !== undefined ? ` -d ${plan.destination}` : ''}`;
  if (approve !== undefined && approve !== fingerprint) {
    return {
      refused: true,
      line: `error: config: --approve-config named ${approve}, but the effective deploy of ${where} is ${fingerprint}; nothing approved (review \`kamal-gate config diff\`)\n`,
    };
  }
  const previous = await approvedConfig(ledger, plan.service, plan.destination);
  // Unchanged and already approved for this version: nothing to write. A new version of an unchanged
  // config is approved again, so `config diff --from VERSION` finds what was approved with each version.
  if (previous?.fingerprint === fingerprint && previous.version === plan.version) return { refused: false, line: `config: ${where} unchanged, approved ${fingerprint}\n` };
  const entry = configApprovalEntry({
    service: plan.service,
    destination: plan.destination,
    version: plan.version,
    fingerprint,
    document: { ...document },
    ...(actor ? { actor } : {}),
  });
  const was = !previous ? ' (first use)' : previous.fingerprint === fingerprint ? ` (unchanged since ${previous.version})` : ` (was ${previous.fingerprint})`;
  return { entry, refused: false, line: `config: ${where} approved ${fingerprint}${was}\n` };
}
