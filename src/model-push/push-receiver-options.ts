/**
 * What a ModelPushReceiver is given (its connection, stores, keys and limits) and the shape of its log
 * lines, apart from the receiver so that its file holds the behaviour.
 */
import type { FaceedgeError } from '../errors.js';
import type { RequestOrigin } from '../mqtt/request-origins.js';
import type { HeadRules } from './head-package.js';
import type { VerifyOptions } from './install-model.js';
import type { InstalledModel, ModelStore } from './model-store.js';
import type { StatfsFn } from './transfer-admission.js';
import type { TransferStore } from './transfer-store.js';

/**
 * What the receiver needs from an MQTT connection: an MQTT.js client satisfies it, and so does the
 * daemon's adapter over its MqttOutput (src/daemon/push-client.ts), which keeps the subscription across
 * reconnects.
 */
export interface PushClient {
  subscribeAsync(filter: string, options: { qos: 1 }): Promise<unknown>;
  unsubscribeAsync(filter: string): Promise<unknown>;
  publishAsync(topic: string, payload: string, options: { qos: 1 }): Promise<unknown>;
  on(event: 'message', listener: PushMessageListener): unknown;
  removeListener(event: 'message', listener: PushMessageListener): unknown;
}

/**
 * A received message; `origin` is what the connection knows of its publisher (the daemon's adapter passes the
 * embedded broker's record, src/mqtt/request-origins.ts). An MQTT.js client passes its packet third and no origin.
 */
export type PushMessageListener = (topic: string, payload: Buffer, packet?: unknown, origin?: RequestOrigin) => void;

export interface ModelPushReceiverOptions {
  readonly client: PushClient;
  /** Default `faceedge`. */
  readonly baseTopic?: string;
  readonly deviceId: string;
  /** The first model's store (a plan without `name`). */
  readonly store: ModelStore;
  /**
   * The store and reload of the model a plan names (`plan.name`); throws `MODEL_NOT_FOUND` (typed) for a name
   * the board does not have, and the `begin` is refused before anything is stored. Absent: every named plan
   * is refused.
   */
  readonly modelNamed?: (name: string) => PushTarget;
  readonly transfers: TransferStore;
  /** Trusted keys, signature policy, self-test tolerances. With no trusted key every push is refused at `begin`. */
  readonly verify: VerifyOptions;
  /** Largest package accepted, bytes. Default `MAX_PACKAGE_BYTES` (64 MiB). */
  readonly maxBytes?: number;
  /** Most bytes the transfer store may hold, bytes. Default: one largest package (`maxBytes`). */
  readonly budgetBytes?: number;
  /** A transfer with no chunk for this long is abandoned and its chunks deleted, ms. Default 120 000. */
  readonly stallTimeoutMs?: number;
  /** Free space kept beyond a push's needs, bytes. Default 16 MiB. */
  readonly reserveBytes?: number;
  /** Measures the state directory's file system. Default node's `statfs`. */
  readonly statfs?: StatfsFn;
  /** Where the board looks for its signing key (`models.public_key`), for the hint of a refusal. */
  readonly publicKeyPath?: string;
  /** The first model's head slot and the board's embedder (a plan without `name`); absent: it has no head slot. */
  readonly head?: HeadRules;
  /** Called after a successful swap, before `installed` is published (the daemon reloads its classifier here). */
  readonly onInstalled?: (model: InstalledModel) => Promise<void> | void;
  readonly log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /**
   * Each log line, with the origin of the transfer's `begin` (null when unknown): the daemon records a push's
   * outcome in its audit trail from here.
   */
  readonly onRecord?: (line: TransferLogLine, origin: RequestOrigin | null, err?: FaceedgeError) => void;
}

/** Where a push for one model installs: its store, and the daemon's reload of that model. */
export interface PushTarget {
  readonly store: ModelStore;
  readonly onInstalled?: (model: InstalledModel) => Promise<void> | void;
  /** Its head slot and the board's embedder; absent: the model has no head slot (a push with a head is refused). */
  readonly head?: HeadRules;
}

/** One log line about a transfer: structured for an audit trail; never package bytes or key material. */
export interface TransferLogLine {
  readonly transfer: string;
  /** Claimed by the sender at `begin`; the installed model's own id and version at `installed`. */
  readonly model: { readonly id: string; readonly version: string } | null;
  /** Size of the package, bytes. */
  readonly bytes: number;
  readonly outcome: 'started' | 'installed' | 'failed' | 'abandoned' | 'refused';
  /** The typed error of a refusal, failure or abandonment. */
  readonly code?: string;
  readonly [detail: string]: unknown;
}
