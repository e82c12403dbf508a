/**
 * Whether the board takes a model push, decided at `begin` before any chunk is stored: pushes are on
 * (a trusted key), the board is not busy with another, the transfer store's byte budget, then the free
 * space of its file system (`statfs`). The refusals go to whoever published the `begin`, so they name
 * no path and nothing of another push.
 */
import { statfs as fsStatfs } from 'node:fs/promises';
import { FaceedgeError } from '../errors.js';
import type { TransferPlan } from './mqtt-push-protocol.js';
import type { StoredTransfer, TransferStore } from './transfer-store.js';

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

/** No trusted key: MQTT pushes are off. `keyPath` is where the board looks for one (`models.public_key`). */
export function pushesOffError(keyPath = 'models.public_key'): FaceedgeError {
  return new FaceedgeError(
    'MODEL_PUSH_DISABLED',
    'model pushes are off on this board: no trusted signing key is configured',
    {
      hint: `create a key pair on the workstation (faceedge model keygen --out <prefix>), copy <prefix>.pub.pem to the board as ${keyPath} (models.public_key), restart faceedge, then sign (faceedge model sign) and push again`,
    },
  );
}

/** Another push holds the board's one slot. */
export function busyError(stallTimeoutMs: number): FaceedgeError {
  return new FaceedgeError('MODEL_PUSH_BUSY', 'another model push is in progress on this board', {
    hint: `push again once it has ended (a transfer with no chunk for ${Math.round(stallTimeoutMs / 1000)} s is abandoned)`,
  });
}

/**
 * Of the transfers found on disk after a restart (newest first), the one to keep for resuming: the
 * newest with a readable plan of at most `maxBytes` whose files are no bigger than that plan allows
 * (its chunks, the plan, one partly written chunk). Null when none qualifies; the rest are deleted.
 */
export function resumableLeftover(
  leftovers: readonly StoredTransfer[],
  maxBytes: number,
): (StoredTransfer & { readonly plan: TransferPlan }) | null {
  for (const t of leftovers) {
    const plan = t.plan;
    if (plan && plan.total_bytes <= maxBytes && t.bytes <= plan.total_bytes + plan.chunk_size + 65_536) {
      return { ...t, plan };
    }
  }
  return null;
}
