/** Whether a policy's requirements ask for a signature check at all: a light test, so verify loads
 *  the signature code (and @sigstore/*) only for images that need it. Mirrors signatureChecks' own guard. */
import type { EffectiveRequirements } from '../policy/types.js';

export function wantsSignatureCheck(req: EffectiveRequirements): boolean {
  const sig = req.groups.signatures?.value;
  const att = req.groups.attestations?.value;
  return (!!sig && sig.mode !== 'off') || (!!att && att.mode !== 'off' && att.require.length > 0);
}
