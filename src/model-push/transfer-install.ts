/**
 * A complete MQTT transfer becoming the serving model: its chunks assembled into the model store's
 * staging area (each file's sha256 checked), the model its `begin` claimed checked against the received
 * manifest, then the same install as the CLI (`installStaged`: signature, self-test, atomic swap), and
 * the daemon's reload. Any failure throws a typed error and leaves the serving model as it was.
 */
import { FaceedgeError } from '../errors.js';
import { installStaged, type VerifyOptions } from './install-model.js';
import { readModelPackage } from './model-package.js';
import { versionName, type InstalledModel, type ModelStore } from './model-store.js';
import type { TransferPlan, TransferStatus } from './mqtt-push-protocol.js';
import type { TransferStore } from './transfer-store.js';

export interface TransferInstallOptions {
  readonly store: ModelStore;
  readonly transfers: TransferStore;
  readonly verify: VerifyOptions;
  /** The daemon's reload; a rejection puts the previous model back and fails the install. */
  readonly onInstalled?: (model: InstalledModel) => Promise<void> | void;
}

/** What an install did: the `installed` status for the sender, and who signed it (for the log line). */
export interface TransferInstalled {
  readonly status: TransferStatus & { readonly model: NonNullable<TransferStatus['model']> };
  readonly signedBy: string | null;
}

export async function installTransfer(o: TransferInstallOptions, id: string, plan: TransferPlan) {
  const { store, transfers, verify } = o;
  const staged = await store.stage();
  try {
    await transfers.assemble(id, plan, staged);
    await checkClaim(staged, plan);
  } catch (err) {
    await store.discard(staged);
    throw err;
  }
  const report = await installStaged(store, staged, verify);
  const { current, previous, unchanged } = report.activation;
  if (!unchanged) {
    try {
      await o.onInstalled?.(current);
    } catch (err) {
      // The daemon could not serve it (e.g. its accelerator delegate refused the model): put the
      // store back so `current` names what is really serving, and report the refusal.
      await store.locked(() => store.swapToPrevious()).catch(() => undefined);
      throw err;
    }
  }
  const model = {
    id: current.manifest.id,
    version: current.name,
    signed_by: report.signedBy,
    previous: previous?.name ?? null,
    unchanged,
  };
  return { status: { state: 'installed', model }, signedBy: report.signedBy } satisfies TransferInstalled;
}

/** The model a `begin` claimed (and the board logged) must be the one received. */
async function checkClaim(staged: string, plan: TransferPlan): Promise<void> {
  if (!plan.model) return;
  const pkg = await readModelPackage(staged);
  const version = versionName(pkg.manifest, pkg.manifestBytes);
  if (pkg.manifest.id !== plan.model.id || version !== plan.model.version) {
    throw new FaceedgeError(
      'MODEL_INVALID',
      `the push claimed model ${plan.model.id} (${plan.model.version}), the package is ${pkg.manifest.id} (${version})`,
    );
  }
}
