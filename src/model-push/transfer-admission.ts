/**
 * Whether the board has room for a model push, decided at `begin` before any chunk is stored: the
 * transfer store's byte budget, then the free space of its file system (`statfs`). Refusals are
 * `MODEL_PUSH_NO_SPACE` with the figures, and never name a path: the status goes to whoever published
 * the `begin`.
 */
import { statfs as fsStatfs } from 'node:fs/promises';
import { FaceedgeError } from '../errors.js';
import type { TransferPlan } from './mqtt-push-protocol.js';
import type { TransferStore } from './transfer-store.js';

/** What `statfs(2)` says of a file system: blocks available to unprivileged users, and their size. */
export type StatfsFn = (path: string) => Promise<{ readonly bavail: number; readonly bsize: number }>;

/** Free space kept on the state directory's file system beyond what a push needs: 16 MiB (logs, the outbox). */
export const DEFAULT_RESERVE_BYTES = 16 * 1024 * 1024;

export interface AdmissionLimits {
  /** Most bytes the transfer store may hold, all transfers together. */
  readonly budgetBytes: number;
  /** Bytes left free beyond the push's own needs. Default `DEFAULT_RESERVE_BYTES`. */
  readonly reserveBytes?: number;
  /** Default: node's `statfs`. Tests inject a full disk. */
  readonly statfs?: StatfsFn;
}

const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;

/**
 * The refusal for transfer `id` under `plan`, or null when it may go ahead. A transfer resumed after a
 * restart counts what it already stored: only the rest must fit.
 */
export async function admissionRefusal(
  store: TransferStore,
  id: string,
  plan: TransferPlan,
  limits: AdmissionLimits,
): Promise<FaceedgeError | null> {
  // Everything else in the store counts against the budget (the receiver deletes what it does not
  // keep, so this is normally 0; measuring keeps the bound true whatever is on disk).
  const others = (await store.leftovers()).filter((t) => t.id !== id).reduce((sum, t) => sum + t.bytes, 0);
  if (others + plan.total_bytes > limits.budgetBytes) {
    return new FaceedgeError(
      'MODEL_PUSH_NO_SPACE',
      `the package's ${mib(plan.total_bytes)} ${others > 0 ? `and ${mib(others)} already stored ` : ''}exceed the model transfer budget of ${mib(limits.budgetBytes)}`,
      { hint: 'push a smaller package, or raise models.push.budget_bytes on the board' },
    );
  }
  await store.ensureRoot();
  const fs = await (limits.statfs ?? fsStatfs)(store.root);
  const free = fs.bavail * fs.bsize;
  const toReceive = Math.max(0, plan.total_bytes - (await store.storedBytes(id)));
  const reserve = limits.reserveBytes ?? DEFAULT_RESERVE_BYTES;
  // The chunks still to come, the package assembled from them into the model store, and the reserve.
  const need = toReceive + plan.total_bytes + reserve;
  if (free < need) {
    return new FaceedgeError(
      'MODEL_PUSH_NO_SPACE',
      `only ${mib(free)} free for model transfers; this push needs ${mib(need)}: ${mib(toReceive)} still to receive, ${mib(plan.total_bytes)} for the assembled package and ${mib(reserve)} kept free`,
      { hint: "free space in the board's state directory (or its models.dir) and push again" },
    );
  }
  return null;
}
