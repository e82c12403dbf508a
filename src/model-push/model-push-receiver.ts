/**
 * The board's end of `faceedge model push --mqtt`: attaches to the daemon's MQTT client, admits one
 * transfer at a time (a trusted key configured, within the byte budget and the free space), stores its
 * chunks as they arrive (resumable), and on `commit` assembles the package into the model store's
 * staging area and runs the same install as the CLI (sha256, signature, self-test in a second
 * interpreter, atomic swap). The serving model is only replaced by a package that passed all of it.
 * The limits, and what a restart keeps, are in mqtt-push-protocol.ts; every transfer's start and outcome
 * is one log line, written by `#record`.
 *
 *   const receiver = new ModelPushReceiver({ client, baseTopic, deviceId, store, transfers, verify, log,
 *     onInstalled: (m) => holder.reload(m.modelPath, m.manifestPath) });
 *   await receiver.attach();   …   await receiver.detach();
 */
import type { RequestOrigin } from '../mqtt/request-origins.js';
import { checkRequestSize, FaceedgeError, isFaceedgeError } from '../errors.js';
import { installTransfer, type TransferInstalled } from './transfer-install.js';
import {
  DEFAULT_STALL_TIMEOUT_MS,
  MAX_CHUNK_SIZE,
  MAX_PUSH_BEGIN_BYTES,
  MAX_PACKAGE_BYTES,
  toRanges,
  transferPlanSchema,
  type TransferPlan,
  type TransferStatus,
} from './mqtt-push-protocol.js';
import { refuseHeadWithoutSlot } from './head-admission.js';
import { admissionRefusal, busyError, pushesOffError, resumableLeftover } from './transfer-admission.js';
import type { ModelPushReceiverOptions, PushTarget, TransferLogLine } from './push-receiver-options.js';
import { DEFAULT_BASE_TOPIC, MqttTopics } from '../mqtt/mqtt-topics.js';
import { errorLogFields } from '../observability/error-log-fields.js';

/** Origins of `begin`s remembered, newest kept: one transfer runs at a time, refused ones come and go. */
const MAX_ORIGINS = 16;

export type { ModelPushReceiverOptions, PushClient, TransferLogLine } from './push-receiver-options.js';

interface Transfer {
  readonly id: string;
  plan: TransferPlan;
  /** Serialises this transfer's admission, writes, commit and end. */
  queue: Promise<void>;
  /** `admitting` until begin's checks pass; `verifying` from a complete commit to the outcome. */
  state: 'admitting' | 'receiving' | 'verifying';
  /** Found on disk at attach and not touched since: another transfer's `begin` replaces it. */
  leftover: boolean;
  /** Its start line was written (once per transfer, not per round of the sender). */
  announced: boolean;
  /** Last begin or chunk, ms since the epoch (the stall timeout counts from it). */
  lastActivityAt: number;
}

export class ModelPushReceiver {
  readonly #o: ModelPushReceiverOptions;
  readonly #topics: MqttTopics;
  readonly #maxBytes: number;
  readonly #budgetBytes: number;
  readonly #stallMs: number;
  /** The one transfer this board is receiving (or verifying), if any. */
  #active: Transfer | null = null;
  #stallTimer: NodeJS.Timeout | null = null;
  #attached = false;
  readonly #onMessage = (topic: string, payload: Buffer, _packet?: unknown, origin?: RequestOrigin) =>
    this.#route(topic, payload, origin);
  /** The origin of each recent transfer's `begin`, for its log lines' audit record (a few kept: MAX_ORIGINS). */
  readonly #origins = new Map<string, RequestOrigin>();

  constructor(options: ModelPushReceiverOptions) {
    this.#o = options;
    this.#topics = new MqttTopics(options.baseTopic ?? DEFAULT_BASE_TOPIC, options.deviceId);
    this.#maxBytes = options.maxBytes ?? MAX_PACKAGE_BYTES;
    this.#budgetBytes = options.budgetBytes ?? this.#maxBytes;
    this.#stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  }

  /** Deals with leftovers (kept or deleted), subscribes to `<base>/<dev>/model/push/+/+` (QoS 1). Idempotent. */
  async attach(): Promise<void> {
    if (this.#attached) return;
    this.#attached = true;
    await this.#takeLeftovers();
    this.#o.client.on('message', this.#onMessage);
    await this.#o.client.subscribeAsync(this.#topics.modelPushFilter, { qos: 1 });
  }

  /** Stops handling messages and waits for the transfer's work in progress (an install included). */
  async detach(): Promise<void> {
    if (!this.#attached) return;
    this.#attached = false;
    this.#o.client.removeListener('message', this.#onMessage);
    await this.#o.client.unsubscribeAsync(this.#topics.modelPushFilter).catch(() => undefined);
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#stallTimer = null;
    await this.#active?.queue;
    this.#active = null; // its chunks stay on disk: the next attach decides on them
  }

  get #pushesOn(): boolean {
    return this.#o.verify.trustedKeys.length > 0;
  }

  /**
   * After a restart: the newest leftover that fits the limits stays resumable (its stall timeout runs
   * from now); every other one is deleted, all of them when pushes are off.
   */
  async #takeLeftovers(): Promise<void> {
    const leftovers = await this.#o.transfers.leftovers();
    const keep = this.#pushesOn ? resumableLeftover(leftovers, Math.min(this.#maxBytes, this.#budgetBytes)) : null;
    for (const { id, plan, bytes } of leftovers) {
      if (id === keep?.id) continue;
      await this.#o.transfers.remove(id);
      const why = this.#pushesOn ? 'left over from before a restart' : 'left over; model pushes are off';
      this.#record(
        { transfer: id, model: plan?.model ?? null, bytes: plan?.total_bytes ?? bytes, outcome: 'abandoned' },
        new FaceedgeError('MODEL_TRANSFER_FAILED', `${why}: its chunks were deleted`),
      );
    }
    if (keep) {
      const { id, plan } = keep;
      const now = Date.now();
      this.#activate({
        id,
        plan,
        queue: Promise.resolve(),
        state: 'receiving',
        leftover: true,
        announced: false,
        lastActivityAt: now,
      });
    }
  }

  #route(topic: string, payload: Buffer, origin: RequestOrigin | undefined): void {
    const parsed = this.#topics.modelPushPartOf(topic);
    if (!parsed || parsed.part === 'status') return;
    const { transfer: id, part } = parsed;
    if (part === 'begin' && origin !== undefined) {
      this.#origins.delete(id); // re-inserted as the newest
      this.#origins.set(id, origin);
      for (const old of this.#origins.keys()) if (this.#origins.size > MAX_ORIGINS) this.#origins.delete(old);
    }
    this.#handle(id, part, payload).catch((err: unknown) => {
      this.#o.log?.warn({ ...errorLogFields(err), transfer: id, part }, 'model push message refused');
    });
  }

  async #handle(id: string, part: string, payload: Buffer): Promise<void> {
    const active = this.#active?.id === id ? this.#active : null;
    // While a package is being verified (seconds, a minute on a busy board), a sender that asks again
    // hears so at once instead of waiting behind the install, and keeps waiting for its outcome.
    if (active?.state === 'verifying') {
      if (part === 'begin' || part === 'commit') await this.#status(id, { state: 'verifying' });
      return;
    }
    if (part === 'begin') return this.#begin(id, payload);
    // Not the transfer being received: nothing is stored for it (its sender's begin gets the answer).
    if (!active) return;
    if (part === 'commit') return this.#enqueue(active, () => this.#commit(active));
    if (/^\d+$/.test(part)) {
      active.lastActivityAt = Date.now();
      active.leftover = false;
      // Base64 text (what the sender publishes); decoded length is checked against the plan.
      const data = Buffer.from(payload.toString('latin1'), 'base64');
      return this.#enqueue(active, () => this.#putChunk(active, Number(part), data));
    }
  }

  /** Runs `job` after the transfer's earlier work, unless the transfer has ended by then. */
  #enqueue(transfer: Transfer, job: () => Promise<void>): Promise<void> {
    const next = transfer.queue.then(() => (this.#active === transfer ? job() : undefined));
    transfer.queue = next.catch(() => undefined);
    return next;
  }

  async #begin(id: string, payload: Buffer): Promise<void> {
    let plan: TransferPlan;
    try {
      checkRequestSize('model push begin', payload.length, MAX_PUSH_BEGIN_BYTES);
      plan = transferPlanSchema.parse(JSON.parse(payload.toString('utf8')));
    } catch (cause) {
      const message = `bad begin message: ${(cause as Error).message}`;
      return this.#refuse(id, null, new FaceedgeError('REQUEST_INVALID', message, { cause }));
    }
    if (!this.#pushesOn) return this.#refuse(id, plan, pushesOffError(this.#o.publicKeyPath));
    try {
      // A model the board does not have, or a head for a model without a head slot: refused before a chunk is stored.
      refuseHeadWithoutSlot(plan, this.#targetOf(plan));
    } catch (err) {
      if (!isFaceedgeError(err)) throw err;
      return this.#refuse(id, plan, err);
    }
    if (plan.total_bytes > this.#maxBytes || plan.chunk_size > MAX_CHUNK_SIZE) {
      const message = `package of ${plan.total_bytes} bytes exceeds the ${this.#maxBytes}-byte limit`;
      return this.#refuse(id, plan, new FaceedgeError('REQUEST_INVALID', message));
    }
    const active = this.#active;
    if (active?.id === id) {
      // The same transfer again: a new round of its sender, or a resume after a restart.
      active.lastActivityAt = Date.now();
      active.leftover = false;
      return this.#enqueue(active, () => this.#admit(active, plan));
    }
    if (active && !active.leftover) return this.#refuse(id, plan, busyError(this.#stallMs));
    // Claimed before any await, so a second begin arriving meanwhile finds the board busy.
    const transfer: Transfer = {
      id,
      plan,
      // A leftover nobody resumed gives way (after its work in flight), its chunks deleted first.
      queue: active ? this.#replace(active) : Promise.resolve(),
      state: 'admitting',
      leftover: false,
      announced: false,
      lastActivityAt: Date.now(),
    };
    this.#activate(transfer);
    return this.#enqueue(transfer, () => this.#admit(transfer, plan));
  }

  #replace(leftover: Transfer): Promise<void> {
    const e = new FaceedgeError('MODEL_TRANSFER_FAILED', 'left over from before a restart, replaced by a new transfer');
    return leftover.queue.then(() => this.#end(leftover, 'abandoned', e)).catch(() => undefined);
  }

  /** Checks budget and free space for `plan`, then starts (or keeps) it on disk and answers with what is missing. */
  async #admit(transfer: Transfer, plan: TransferPlan): Promise<void> {
    try {
      const refusal = await admissionRefusal(this.#o.transfers, transfer.id, plan, {
        budgetBytes: this.#budgetBytes,
        reserveBytes: this.#o.reserveBytes,
        statfs: this.#o.statfs,
      });
      if (refusal) return this.#end(transfer, 'refused', refusal, plan);
      await this.#o.transfers.begin(transfer.id, plan);
    } catch (err) {
      return this.#end(transfer, 'failed', err, plan);
    }
    transfer.plan = plan;
    transfer.state = 'receiving';
    if (!transfer.announced) {
      transfer.announced = true;
      const missing = (await this.#o.transfers.missing(transfer.id, plan)).length;
      this.#record({
        ...this.#lineFor(transfer.id, plan),
        outcome: 'started',
        chunks: plan.total_chunks,
        stored: plan.total_chunks - missing,
      });
    }
    await this.#publishProgress(transfer);
  }

  async #putChunk(transfer: Transfer, n: number, data: Buffer): Promise<void> {
    if (transfer.state !== 'receiving') return;
    try {
      await this.#o.transfers.putChunk(transfer.id, transfer.plan, n, data);
    } catch (err) {
      if (isFaceedgeError(err, 'REQUEST_INVALID')) throw err; // a bad message, refused alone
      // The disk refused it (full, read-only, failing): this transfer cannot complete.
      const full = (err as NodeJS.ErrnoException).code === 'ENOSPC';
      const cause = full
        ? new FaceedgeError('MODEL_PUSH_NO_SPACE', 'the disk filled up while receiving', { cause: err })
        : err;
      await this.#end(transfer, 'failed', cause);
    }
  }

  async #publishProgress(transfer: Transfer): Promise<void> {
    const missing = await this.#o.transfers.missing(transfer.id, transfer.plan);
    await this.#status(transfer.id, {
      state: 'receiving',
      received: transfer.plan.total_chunks - missing.length,
      total: transfer.plan.total_chunks,
      missing: toRanges(missing),
    });
  }

  async #commit(transfer: Transfer): Promise<void> {
    if (transfer.state !== 'receiving') return;
    const { id, plan } = transfer;
    const missing = await this.#o.transfers.missing(id, plan);
    if (missing.length > 0) return this.#publishProgress(transfer);
    transfer.state = 'verifying';
    await this.#status(id, { state: 'verifying', received: plan.total_chunks, total: plan.total_chunks });
    let installed: TransferInstalled;
    try {
      installed = await installTransfer({ ...this.#o, ...this.#targetOf(plan) }, id, plan);
    } catch (err) {
      return this.#end(transfer, 'failed', err);
    }
    const { model } = installed.status;
    this.#record({
      transfer: id,
      model: { id: model.id, version: model.version },
      bytes: plan.total_bytes,
      outcome: 'installed',
      signed_by: installed.signedBy,
      unchanged: model.unchanged,
    });
    // The chunks have served their purpose; they are gone before the sender hears the outcome.
    this.#active = null;
    await this.#o.transfers.remove(id);
    await this.#status(id, installed.status);
  }

  /**
   * Ends a transfer that did not install: frees the slot, deletes its chunks at once, writes its line and
   * tells the sender (`failed`, with the typed error; the serving model is untouched).
   */
  async #end(
    transfer: Transfer,
    outcome: 'failed' | 'abandoned' | 'refused',
    err: unknown,
    plan = transfer.plan,
  ): Promise<void> {
    if (this.#active === transfer) this.#active = null;
    const e = isFaceedgeError(err)
      ? err
      : new FaceedgeError('MODEL_TRANSFER_FAILED', (err as Error).message, { cause: err });
    try {
      await this.#o.transfers.remove(transfer.id);
    } finally {
      this.#record(this.#lineFor(transfer.id, plan, outcome), e);
      await this.#status(transfer.id, failedStatus(e));
    }
  }

  /** Refuses a `begin` that claims nothing: no slot was taken, nothing was written. */
  async #refuse(id: string, plan: TransferPlan | null, e: FaceedgeError): Promise<void> {
    this.#record(
      plan ? this.#lineFor(id, plan, 'refused') : { transfer: id, model: null, bytes: 0, outcome: 'refused' },
      e,
    );
    await this.#status(id, failedStatus(e));
  }

  /** The store (and reload) of the model `plan` names; the first model's without a name. */
  #targetOf(plan: TransferPlan): PushTarget {
    if (plan.name === undefined) return { store: this.#o.store, onInstalled: this.#o.onInstalled, head: this.#o.head };
    if (!this.#o.modelNamed) throw new FaceedgeError('MODEL_NOT_FOUND', `this board has no model named "${plan.name}"`);
    return this.#o.modelNamed(plan.name);
  }

  #lineFor(id: string, plan: TransferPlan, outcome: TransferLogLine['outcome'] = 'started'): TransferLogLine {
    const line = { transfer: id, model: plan.model ?? null, bytes: plan.total_bytes, outcome };
    return plan.name === undefined ? line : { ...line, name: plan.name };
  }

  /**
   * The one place a transfer's start and outcome are logged (an audit trail can take them from here):
   * one line each, info when started or installed, warn otherwise.
   */
  #record(line: TransferLogLine, err?: FaceedgeError): void {
    this.#o.onRecord?.(line, this.#origins.get(line.transfer) ?? null, err);
    const fields = err ? { ...line, ...errorLogFields(err) } : line;
    if (line.outcome === 'started' || line.outcome === 'installed')
      this.#o.log?.info(fields, `model push ${line.outcome}`);
    else this.#o.log?.warn(fields, `model push ${line.outcome}: the current model keeps serving`);
  }

  /** Makes `transfer` the one being received and watches it for a stall. */
  #activate(transfer: Transfer): void {
    this.#active = transfer;
    this.#watchStall(transfer, this.#stallMs);
  }

  #watchStall(transfer: Transfer, afterMs: number): void {
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = null;
      if (this.#active !== transfer) return;
      const idleMs = Date.now() - transfer.lastActivityAt;
      // An install in progress is not a stall: it ends the transfer itself.
      if (transfer.state === 'verifying' || idleMs < this.#stallMs)
        return this.#watchStall(transfer, Math.max(this.#stallMs - idleMs, 100));
      const e = new FaceedgeError('MODEL_TRANSFER_FAILED', `abandoned: no chunk for ${Math.round(idleMs / 1000)} s`, {
        hint: 'push again (the transfer starts over)',
      });
      this.#enqueue(transfer, () => this.#end(transfer, 'abandoned', e)).catch((err: unknown) => {
        this.#o.log?.warn(
          { ...errorLogFields(err), transfer: transfer.id },
          'model push: abandoning a transfer failed',
        );
      });
    }, afterMs);
    this.#stallTimer.unref();
  }

  async #status(id: string, status: TransferStatus): Promise<void> {
    await this.#o.client.publishAsync(this.#topics.modelPushPart(id, 'status'), JSON.stringify(status), { qos: 1 });
  }
}

function failedStatus(e: FaceedgeError): TransferStatus {
  return { state: 'failed', error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } };
}
