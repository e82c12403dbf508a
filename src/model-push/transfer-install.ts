/**
 * A complete MQTT transfer becoming the serving model: its chunks assembled into the model store's
 * staging area (each file's sha256 checked), the model its `begin` claimed checked against the received
 * manifest, then the same install as the CLI (`installStaged`: signature, self-test, atomic swap), and
 * the daemon's reload. Any failure throws a typed error and leaves the serving model as it was. A pair's head
 * arrives in `head/` and is installed in the same version; a head alone is installed beside a copy of the
 * store's current model (head-package.ts: the head must be paired with it).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { HEAD_FOLDER, readHeadPackage, type HeadRules } from './head-package.js';
import { copyPackage, installStaged, packageVersion, type VerifyOptions } from './install-model.js';
import { readModelPackage } from './model-package.js';
import { versionName, type InstalledModel, type ModelStore } from './model-store.js';
import { HEAD_PREFIX, type TransferPlan, type TransferStatus } from './mqtt-push-protocol.js';
import type { TransferStore } from './transfer-store.js';

export interface TransferInstallOptions {
  readonly store: ModelStore;
  readonly transfers: TransferStore;
  readonly verify: VerifyOptions;
  /** The model's head slot and the board's embedder (a head sent to a model without a slot is refused). */
  readonly head?: HeadRules;
  /** The daemon's reload; a rejection puts the previous model back and fails the install. */
  readonly onInstalled?: (model: InstalledModel) => Promise<void> | void;
}

/** What an install did: the `installed` status for the sender, and who signed it (for the log line). */
export interface TransferInstalled {
  readonly status: TransferStatus & { readonly model: NonNullable<TransferStatus['model']> };
  readonly signedBy: string | null;
}

export async function installTransfer(o: TransferInstallOptions, id: string, plan: TransferPlan) {
  const { store, transfers } = o;
  const staged = await store.stage();
  const headAlone = plan.files[0].name.startsWith(HEAD_PREFIX);
  try {
    if (plan.files.some((f) => f.name.startsWith(HEAD_PREFIX))) await mkdir(join(staged, HEAD_FOLDER));
    await transfers.assemble(id, plan, staged);
    await checkClaim(staged, plan, headAlone);
    if (headAlone) await besideServingModel(store, staged);
  } catch (err) {
    await store.discard(staged);
    throw err;
  }
  const report = await installStaged(store, staged, { ...o.verify, head: o.head ?? { slot: false } });
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
    head: report.head && { id: report.head.id, signed_by: report.head.signedBy },
  };
  return { status: { state: 'installed', model }, signedBy: report.signedBy } satisfies TransferInstalled;
}

/**
 * A head alone becomes a new version of the serving model: the store's current package is copied beside it
 * (so `previous` keeps the old pair, and a rollback restores it). Without a stored model (the board serves its
 * configured `classifiers[].model`) there is nothing to pair it with in the store: refused.
 */
async function besideServingModel(store: ModelStore, staged: string): Promise<void> {
  const current = await store.current();
  if (!current)
    throw new FaceedgeError('MODEL_INVALID', 'a head alone needs an installed image model to pair with', {
      hint: 'push the pair: faceedge model push <image pkg> --head <head pkg>',
    });
  await copyPackage(current.dir, staged);
}

/** The model a `begin` claimed (and the board logged) must be the one received (a head alone: the head). */
async function checkClaim(staged: string, plan: TransferPlan, headAlone: boolean): Promise<void> {
  if (!plan.model) return;
  let id: string, version: string;
  if (headAlone) {
    const head = await readHeadPackage(join(staged, HEAD_FOLDER));
    [id, version] = [head.manifest.id, versionName(head.manifest, head.manifestBytes)];
  } else {
    const pkg = await readModelPackage(staged);
    [id, version] = [pkg.manifest.id, await packageVersion(pkg)];
  }
  if (id !== plan.model.id || version !== plan.model.version) {
    throw new FaceedgeError(
      'MODEL_INVALID',
      `the push claimed model ${plan.model.id} (${plan.model.version}), the package is ${id} (${version})`,
    );
  }
}
