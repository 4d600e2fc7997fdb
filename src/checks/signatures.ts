/**
 * The signatures check: the image's signatures and attestations against the policy's signers and
 * the signer flags of `verify`. The signature code and @sigstore/* load only when the policy (or a
 * flag) asks this image for signatures; signatures/wants.ts tells without loading them.
 */
import { wantsSignatureCheck } from '../signatures/wants.js';
import type { ImageCheck } from './types.js';

export const signaturesCheck: ImageCheck = {
  name: 'signatures',
  on: 'image',
  async run(image, ctx) {
    if (!wantsSignatureCheck(ctx.requirements) && !ctx.extraSignatures && !ctx.extraAttestations) return { findings: [] };
    const { signatureChecks } = await import('../signatures/check.js');
    const { findings } = await signatureChecks(ctx.client, image, ctx.requirements, {
      ...(ctx.trustedRoot ? { trustedRoot: ctx.trustedRoot } : {}),
      ...(ctx.extraSignatures ? { extraSignatures: ctx.extraSignatures } : {}),
      ...(ctx.extraAttestations ? { extraAttestations: ctx.extraAttestations } : {}),
    });
    return { findings };
  },
};
