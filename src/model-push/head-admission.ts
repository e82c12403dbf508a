/**
 * A push carrying a head (a pair, or a head alone: `head/…` files in its plan) is refused at `begin`, before a
 * chunk is stored, when the model it names has no head slot on this board (`classifiers[].head` unset). The
 * install checks it again (head-package.ts), for the other ways a package reaches the store.
 */
import { FaceedgeError } from '../errors.js';
import { HEAD_PREFIX, type TransferPlan } from './mqtt-push-protocol.js';
import type { PushTarget } from './push-receiver-options.js';

/** Throws `MODEL_INVALID` (typed, with the fix) for a plan with head files aimed at a model without a head slot. */
export function refuseHeadWithoutSlot(plan: TransferPlan, target: PushTarget): void {
  if (!plan.files.some((f) => f.name.startsWith(HEAD_PREFIX)) || target.head?.slot) return;
  const model = plan.name === undefined ? 'the first model' : `model "${plan.name}"`;
  throw new FaceedgeError('MODEL_INVALID', `the push carries a head, and ${model} has no head slot on this board`, {
    hint: 'add `head:` to that classifier entry in the board config (then restart), or push the image model without --head',
  });
}
