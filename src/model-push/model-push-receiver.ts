/**
 * The board's end of `faceedge model push --mqtt`: attaches to the daemon's MQTT client, stores
 * chunks as they arrive (resumable), and on `commit` assembles the package into the model store's
 * staging area and runs the same install as the CLI (sha256, signature, self-test in a second
 * interpreter, atomic swap). The serving model is only replaced by a package that passed all of it.
 *
 *   const receiver = new ModelPushReceiver({ client, baseTopic, deviceId, store, transfers, verify, log,
 *     onInstalled: (m) => holder.reload(m.modelPath, m.manifestPath) });
 *   await receiver.attach();   …   await receiver.detach();
 */
import { FaceedgeError } from '../errors.js';
import { installStaged, type VerifyOptions } from './install-model.js';
import type { InstalledModel, ModelStore } from './model-store.js';
import {
  MAX_CHUNK_SIZE,
  toRanges,
  transferPlanSchema,
  type TransferPlan,
  type TransferStatus,
} from './mqtt-push-protocol.js';
import type { TransferStore } from './transfer-store.js';
import { DEFAULT_BASE_TOPIC, MqttTopics } from '../mqtt/mqtt-topics.js';
import { errorLogFields } from '../observability/error-log-fields.js';

/**
 * What the receiver needs from an MQTT connection: an MQTT.js client satisfies it, and so does the
 * daemon's adapter over its MqttOutput (src/daemon/push-client.ts), which keeps the subscription across
 * reconnects.
 */
export interface PushClient {
  subscribeAsync(filter: string, options: { qos: 1 }): Promise<unknown>;
  unsubscribeAsync(filter: string): Promise<unknown>;
  publishAsync(topic: string, payload: string, options: { qos: 1 }): Promise<unknown>;
  on(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
  removeListener(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
}

export interface ModelPushReceiverOptions {
  readonly client: PushClient;
  /** Default `faceedge`. */
  readonly baseTopic?: string;
  readonly deviceId: string;
  readonly store: ModelStore;
  readonly transfers: TransferStore;
  /** Trusted keys, signature policy, self-test tolerances. */
  readonly verify: VerifyOptions;
  /** Largest package accepted, bytes. Default 64 MiB (the shipped int8+float package is under 2 MiB). */
  readonly maxBytes?: number;
  /** Abandoned transfers older than this are deleted on attach, ms. Default 24 h. */
  readonly staleAfterMs?: number;
  /** Called after a successful swap, before `installed` is published (the daemon reloads its classifier here). */
  readonly onInstalled?: (model: InstalledModel) => Promise<void> | void;
  readonly log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

interface Transfer {
  plan: TransferPlan;
  /** Serialises this transfer's writes and its commit. */
  queue: Promise<void>;
  busy: boolean;
}

export class ModelPushReceiver {
  readonly #o: ModelPushReceiverOptions;
  readonly #topics: MqttTopics;
  readonly #transfers = new Map<string, Transfer>();
  #attached = false;
  readonly #onMessage = (topic: string, payload: Buffer) => this.#route(topic, payload);

  constructor(options: ModelPushReceiverOptions) {
    this.#o = options;
    this.#topics = new MqttTopics(options.baseTopic ?? DEFAULT_BASE_TOPIC, options.deviceId);
  }

  /** Subscribes to `<base>/<dev>/model/push/+/+` (QoS 1) and starts handling messages. Idempotent. */
  async attach(): Promise<void> {
    if (this.#attached) return;
    this.#attached = true;
    const stale = await this.#o.transfers.pruneOlderThan(this.#o.staleAfterMs ?? 24 * 3600_000);
    if (stale.length > 0) this.#o.log?.info({ transfers: stale }, 'removed abandoned model transfers');
    this.#o.client.on('message', this.#onMessage);
    await this.#o.client.subscribeAsync(this.#topics.modelPushFilter, { qos: 1 });
  }

  async detach(): Promise<void> {
    if (!this.#attached) return;
    this.#attached = false;
    this.#o.client.removeListener('message', this.#onMessage);
    await this.#o.client.unsubscribeAsync(this.#topics.modelPushFilter).catch(() => undefined);
    await Promise.all([...this.#transfers.values()].map((t) => t.queue));
  }

  #route(topic: string, payload: Buffer): void {
    const parsed = this.#topics.modelPushPartOf(topic);
    if (!parsed || parsed.part === 'status') return;
    const { transfer: id, part } = parsed;
    this.#handle(id, part, payload).catch((err: unknown) => {
      this.#o.log?.warn({ ...errorLogFields(err), transfer: id, part }, 'model push message refused');
    });
  }

  async #handle(id: string, part: string, payload: Buffer): Promise<void> {
    // While a package is being verified (seconds, a minute on a busy board), a sender that asks again
    // hears so at once instead of waiting behind the install, and keeps waiting for its outcome.
    const verifying = this.#transfers.get(id)?.busy === true;
    if (verifying && (part === 'begin' || part === 'commit')) return this.#status(id, { state: 'verifying' });
    if (part === 'begin') return this.#begin(id, payload);
    const transfer = this.#transfers.get(id) ?? (await this.#load(id));
    if (!transfer) return; // a chunk for a transfer we never saw begin for: the sender's begin will come
    if (part === 'commit') return this.#enqueue(transfer, () => this.#commit(id, transfer));
    if (/^\d+$/.test(part)) {
      const n = Number(part);
      // Base64 text (what the sender publishes); decoded length is checked against the plan.
      return this.#enqueue(transfer, () =>
        this.#o.transfers.putChunk(id, transfer.plan, n, Buffer.from(payload.toString('latin1'), 'base64')),
      );
    }
  }

  #enqueue(transfer: Transfer, job: () => Promise<void>): Promise<void> {
    const next = transfer.queue.then(job);
    transfer.queue = next.catch(() => undefined);
    return next;
  }

  async #load(id: string): Promise<Transfer | null> {
    const plan = await this.#o.transfers.plan(id);
    if (!plan) return null;
    const transfer = { plan, queue: Promise.resolve(), busy: false };
    this.#transfers.set(id, transfer);
    return transfer;
  }

  async #begin(id: string, payload: Buffer): Promise<void> {
    let plan: TransferPlan;
    try {
      plan = transferPlanSchema.parse(JSON.parse(payload.toString('utf8')));
    } catch (cause) {
      throw new FaceedgeError('REQUEST_INVALID', `model push ${id}: bad begin message: ${(cause as Error).message}`, {
        cause,
      });
    }
    const maxBytes = this.#o.maxBytes ?? 64 * 1024 * 1024;
    if (plan.total_bytes > maxBytes || plan.chunk_size > MAX_CHUNK_SIZE) {
      return this.#status(id, {
        state: 'failed',
        error: {
          code: 'REQUEST_INVALID',
          message: `package of ${plan.total_bytes} bytes exceeds the ${maxBytes}-byte limit`,
        },
      });
    }
    let transfer = this.#transfers.get(id);
    if (!transfer || JSON.stringify(transfer.plan) !== JSON.stringify(plan)) {
      transfer = { plan, queue: transfer?.queue ?? Promise.resolve(), busy: false };
      this.#transfers.set(id, transfer);
    }
    const t = transfer;
    await this.#enqueue(t, async () => {
      await this.#o.transfers.begin(id, plan);
      await this.#publishProgress(id, t);
    });
  }

  async #publishProgress(id: string, transfer: Transfer): Promise<void> {
    const missing = await this.#o.transfers.missing(id, transfer.plan);
    await this.#status(id, {
      state: 'receiving',
      received: transfer.plan.total_chunks - missing.length,
      total: transfer.plan.total_chunks,
      missing: toRanges(missing),
    });
  }

  async #commit(id: string, transfer: Transfer): Promise<void> {
    if (transfer.busy) return;
    const missing = await this.#o.transfers.missing(id, transfer.plan);
    if (missing.length > 0) return this.#publishProgress(id, transfer);
    transfer.busy = true;
    await this.#status(id, {
      state: 'verifying',
      received: transfer.plan.total_chunks,
      total: transfer.plan.total_chunks,
    });
    const { store, transfers, verify, log } = this.#o;
    let outcome: TransferStatus;
    try {
      const staged = await store.stage();
      try {
        await transfers.assemble(id, transfer.plan, staged);
      } catch (err) {
        await store.discard(staged);
        throw err;
      }
      const report = await installStaged(store, staged, verify);
      const current = report.activation.current;
      log?.info(
        {
          model: current.manifest.id,
          version: current.name,
          signed_by: report.signedBy,
          unchanged: report.activation.unchanged,
        },
        'model installed from MQTT push',
      );
      if (!report.activation.unchanged) {
        try {
          await this.#o.onInstalled?.(current);
        } catch (err) {
          // The daemon could not serve it (e.g. its accelerator delegate refused the model): put the
          // store back so `current` names what is really serving, and report the refusal.
          await store.locked(() => store.swapToPrevious()).catch(() => undefined);
          throw err;
        }
      }
      outcome = {
        state: 'installed',
        model: {
          id: current.manifest.id,
          version: current.name,
          signed_by: report.signedBy,
          previous: report.activation.previous?.name ?? null,
          unchanged: report.activation.unchanged,
        },
      };
    } catch (err) {
      const e =
        err instanceof FaceedgeError ? err : new FaceedgeError('MODEL_INVALID', (err as Error).message, { cause: err });
      log?.warn({ ...errorLogFields(e), transfer: id }, 'model push refused: the current model keeps serving');
      outcome = { state: 'failed', error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } };
    }
    // Installed or refused, the chunks have served their purpose (a retry starts clean); they are
    // gone before the sender hears the outcome.
    this.#transfers.delete(id);
    await transfers.remove(id);
    await this.#status(id, outcome);
  }

  async #status(id: string, status: TransferStatus): Promise<void> {
    await this.#o.client.publishAsync(this.#topics.modelPushPart(id, 'status'), JSON.stringify(status), { qos: 1 });
  }
}
