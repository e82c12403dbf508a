/**
 * New models reaching the running daemon: the model store (`models.dir`) that `faceedge model install`
 * / `rollback` write to from another process (SSH pushes), watched for changes of its `current` link,
 * and the MQTT push receiver that installs into the same store. Either way the daemon reloads through
 * one callback, and a model that fails to load leaves the old one serving.
 *
 *   const updates = new ModelUpdates({ models, stateDir, mqtt, baseTopic, deviceId, reload, log });
 *   await updates.start();  …  await updates.stop();
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { ModelsConfig } from '../config/config-schema.js';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import { CurrentModelWatcher } from '../model-push/current-model-watcher.js';
import { readPublicKeys } from '../model-push/model-signature.js';
import { ModelPushReceiver } from '../model-push/model-push-receiver.js';
import { ModelStore, type InstalledModel } from '../model-push/model-store.js';
import { rollbackModel } from '../model-push/install-model.js';
import { TransferStore } from '../model-push/transfer-store.js';
import type { PushTarget, TransferLogLine } from '../model-push/push-receiver-options.js';
import type { HeadRules } from '../model-push/head-package.js';
import type { AuditTrail } from '../mqtt/audit-trail.js';
import type { MqttOutput } from '../mqtt/mqtt-output.js';
import type { RequestOrigin } from '../mqtt/request-origins.js';
import { verifyReloadTarget, type ModelReloadTarget } from './model-reload-request.js';
import { pushClientFor } from './push-client.js';

export interface ModelUpdatesOptions {
  readonly models: ModelsConfig;
  /** Resumable MQTT transfers live in `<stateDir>/model-transfers`. */
  readonly stateDir: string;
  readonly mqtt: Pick<MqttOutput, 'subscribe' | 'publish'>;
  readonly baseTopic: string;
  readonly deviceId: string;
  /** Loads and swaps in a newly current model; rejects (typed) to refuse it. */
  readonly reload: (model: InstalledModel) => Promise<void>;
  readonly log: Logger;
  /** Where each push's outcome is recorded with the origin of its `begin` (src/mqtt/audit-trail.ts). */
  readonly audit?: Pick<AuditTrail, 'record'>;
  /** Store poll period, ms (inotify does the quick part). Default 5000. */
  readonly pollMs?: number;
  /**
   * Attach the MQTT push receiver (one per board, the first model's: a push without a name installs into
   * its store, one naming another model into that model's through `pushTargetNamed`). False for the stores of
   * further models (`models.dir/<name>`). Default true.
   */
  readonly receivePushes?: boolean;
  /**
   * With `receivePushes`: where a push naming a model (`begin`'s `name`) installs; throws `MODEL_NOT_FOUND`
   * for a name the board does not have. Absent: only pushes without a name are taken.
   */
  readonly pushTargetNamed?: (name: string) => PushTarget;
  /** This model's head slot (`classifiers[].head`) and the board's embedder; absent: no slot, a head is refused. */
  readonly head?: HeadRules;
}

/**
 * How the serving model file got there, for bridge/info: installed into the model store (`faceedge model
 * install`, an SSH or MQTT push; `version` is its folder under `versions/`), or the configured
 * `classifier.model`.
 */
export function servedFrom(
  modelPath: string,
  modelsDir: string,
): { installed: 'model-store' | 'classifier.model'; version: string | null } {
  const versions = join(modelsDir, 'versions') + '/';
  if (!modelPath.startsWith(versions)) return { installed: 'classifier.model', version: null };
  return { installed: 'model-store', version: modelPath.slice(versions.length).split('/')[0] ?? null };
}

/** The store's current model, or null when there is none (a fresh board serves `classifier.model`). */
export async function currentStoredModel(dir: string): Promise<InstalledModel | null> {
  return new ModelStore(dir).current();
}

const secondsToMs = (s: number | undefined) => (s === undefined ? undefined : s * 1000);

/** A push whose `begin` this run did not see (left over from before a restart). */
const UNKNOWN_PUSH_ORIGIN: RequestOrigin = { who: null, via: 'unknown: begun before the daemon restarted' };

export class ModelUpdates {
  readonly store: ModelStore;
  readonly #o: ModelUpdatesOptions;
  #watcher: CurrentModelWatcher | null = null;
  #receiver: ModelPushReceiver | null = null;
  /** Read once, on first use: pushes and bridge reloads check against the same keys. */
  #keys: Promise<KeyObject[]> | null = null;

  constructor(options: ModelUpdatesOptions) {
    this.#o = options;
    this.store = new ModelStore(options.models.dir);
  }

  async start(): Promise<void> {
    const { log } = this.#o;
    this.#watcher = new CurrentModelWatcher({
      store: this.store,
      onChange: (m) => this.#o.reload(m),
      pollMs: this.#o.pollMs,
      log,
    });
    await this.#watcher.start();
    if (this.#o.receivePushes === false) return;
    const watcher = this.#watcher;
    this.#receiver = new ModelPushReceiver({
      client: pushClientFor(this.#o.mqtt),
      baseTopic: this.#o.baseTopic,
      deviceId: this.#o.deviceId,
      store: this.store,
      transfers: new TransferStore(join(this.#o.stateDir, 'model-transfers')),
      verify: { trustedKeys: await this.#trustedKeysOnce(), requireSignature: this.#o.models.require_signature },
      budgetBytes: this.#o.models.push.budget_bytes,
      stallTimeoutMs: secondsToMs(this.#o.models.push.stall_timeout_s),
      publicKeyPath: this.#o.models.public_key,
      // The watcher does the reload (it would notice the new link anyway); sync() hands its outcome back,
      // so a model the daemon cannot serve is rolled back and reported to the sender.
      onInstalled: () => watcher.sync(),
      head: this.#o.head,
      modelNamed: this.#o.pushTargetNamed,
      log,
      onRecord: (line, origin, err) => this.#auditPush(line, origin, err),
    });
    await this.#receiver.attach();
  }

  /**
   * Where an MQTT push for this model installs: this store, then a reload through this store's watcher
   * (whose outcome the sender hears). Throws while the updates are not running.
   */
  get pushTarget(): PushTarget {
    const watcher = this.#watcher;
    if (!watcher) throw new FaceedgeError('MODEL_INVALID', 'model updates are not running');
    return { store: this.store, onInstalled: () => watcher.sync(), head: this.#o.head };
  }

  /**
   * Goes back to the store's previous model (re-checked by `rollbackModel`, then loaded through the
   * watcher, as `faceedge model rollback` from a shell would be). With no previous model the current one
   * is retired and `'configured'` is returned: the caller then serves `classifier.model` again.
   * A previous model the daemon cannot load is put back and the error thrown.
   */
  async rollback(): Promise<'previous' | 'configured'> {
    const watcher = this.#watcher;
    if (!watcher) throw new FaceedgeError('MODEL_INVALID', 'model updates are not running');
    if (await this.store.previous()) {
      await rollbackModel(this.store);
      try {
        await watcher.sync();
      } catch (err) {
        await this.store.locked(() => this.store.swapToPrevious()).catch(() => undefined);
        throw err;
      }
      return 'previous';
    }
    await this.store.locked(() => this.store.retireCurrent());
    await watcher.sync();
    return 'configured';
  }

  /** Detaches the receiver (waiting for an install in progress), then stops watching. Idempotent. */
  async stop(): Promise<void> {
    await this.#receiver?.detach();
    this.#receiver = null;
    this.#watcher?.stop();
    this.#watcher = null;
  }

  /**
   * Verifies the package of a model named by `bridge/request/model/reload` exactly as a push or
   * `faceedge model install` would (checksums, signature per `models.require_signature`, self-test).
   */
  async verifyReload(target: ModelReloadTarget): Promise<void> {
    await verifyReloadTarget(target, {
      trustedKeys: await this.#trustedKeysOnce(),
      requireSignature: this.#o.models.require_signature,
    });
  }

  #trustedKeysOnce(): Promise<KeyObject[]> {
    this.#keys ??= this.#trustedKeys();
    return this.#keys;
  }

  /**
   * The configured signing key. A board without one keeps running: every MQTT push is then refused at
   * its `begin` with MODEL_PUSH_DISABLED (nothing is written), and a bridge reload of a signed or
   * required-signature package with MODEL_SIGNATURE_INVALID ("no trusted public key").
   */
  async #trustedKeys(): Promise<KeyObject[]> {
    const { models, log } = this.#o;
    if (!existsSync(models.public_key)) {
      // info, not warn: most boards never receive a push; one that does gets a clear refusal instead.
      log.info(
        { public_key: models.public_key },
        'no model signing key: model pushes over MQTT are off until it is installed (then restart)',
      );
      return [];
    }
    try {
      return await readPublicKeys([models.public_key]);
    } catch (err) {
      if (!isFaceedgeError(err)) throw err;
      log.error(
        { public_key: models.public_key, err: err.message },
        'unusable model signing key: model pushes over MQTT will be refused',
      );
      return [];
    }
  }

  /** A push's outcome in the audit trail (its start is only logged): installed, refused, failed or abandoned. */
  #auditPush(line: TransferLogLine, origin: RequestOrigin | null, err?: FaceedgeError): void {
    if (line.outcome === 'started' || !this.#o.audit) return;
    this.#o.audit.record(origin ?? UNKNOWN_PUSH_ORIGIN, {
      action: 'model/push',
      target: line.transfer,
      outcome: line.outcome === 'installed' ? 'accepted' : line.outcome === 'refused' ? 'refused' : 'failed',
      detail: { model: line.model, bytes: line.bytes, result: line.outcome, ...(err ? { code: err.code } : {}) },
    });
  }
}
