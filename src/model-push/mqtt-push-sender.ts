/**
 * The workstation's end of `faceedge model push <dir> --mqtt <url> --device <dev>`: checks the
 * package locally, then runs rounds of begin → (missing chunks) → commit until the board answers
 * `installed` or `failed`. A round that loses chunks, a dropped connection or a rerun after a kill
 * only resends what the board reports missing.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { redactUrl } from '../observability/redact-url.js';
import { mapWithLimit } from '../concurrency/map-with-limit.js';
import { FaceedgeError, type FaceedgeErrorCode } from '../errors.js';
import { DEFAULT_BASE_TOPIC, MqttTopics, type ModelPushPart } from '../mqtt/mqtt-topics.js';
import { MANIFEST_FILE, SIGNATURE_FILE, readModelPackage, sha256Hex, verifyPackageFiles } from './model-package.js';
import {
  DEFAULT_CHUNK_SIZE,
  fromRanges,
  transferIdFor,
  type TransferPlan,
  type TransferStatus,
} from './mqtt-push-protocol.js';

export interface MqttPushOptions {
  readonly dir: string;
  readonly url: string;
  readonly deviceId: string;
  /** Default `faceedge`. */
  readonly baseTopic?: string;
  /** Bytes of package per chunk. Default 64 KiB. */
  readonly chunkSize?: number;
  readonly mqtt?: IClientOptions;
  /** How long to wait for the board's answer to begin/commit, ms. Default 15 000 (verifying may take longer: 120 000). */
  readonly answerTimeoutMs?: number;
  /** Rounds of begin/commit before giving up. Default 5. */
  readonly maxRounds?: number;
  /** Chunks in flight at once (QoS 1, acked by the broker). Default 8. */
  readonly window?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: { sent: number; missing: number; total: number }) => void;
}

export interface MqttPushResult {
  readonly transferId: string;
  readonly status: TransferStatus;
  /** Chunks published by this run (less than the total when it resumed). */
  readonly chunksSent: number;
  readonly totalChunks: number;
}

interface Payload {
  readonly plan: TransferPlan;
  readonly data: Buffer;
  readonly id: string;
}

async function loadPayload(dir: string, chunkSize: number): Promise<Payload> {
  const pkg = await readModelPackage(dir);
  await verifyPackageFiles(pkg); // refuse locally what the board would refuse anyway
  const signature = await readFile(join(dir, SIGNATURE_FILE)).catch(() => null);
  const parts: Array<{ name: string; data: Buffer }> = [{ name: MANIFEST_FILE, data: pkg.manifestBytes }];
  if (signature) parts.push({ name: SIGNATURE_FILE, data: signature });
  for (const f of pkg.files) parts.push({ name: f.name, data: await readFile(join(dir, f.name)) });
  const data = Buffer.concat(parts.map((p) => p.data));
  const plan: TransferPlan = {
    files: parts.map((p) => ({ name: p.name, bytes: p.data.length, sha256: sha256Hex(p.data) })),
    chunk_size: chunkSize,
    total_bytes: data.length,
    total_chunks: Math.ceil(data.length / chunkSize),
  };
  return { plan, data, id: transferIdFor(pkg.manifestBytes, signature, chunkSize) };
}

/** Waits for the next status on the transfer's status topic that `accept` takes. */
class StatusWaiter {
  #queue: TransferStatus[] = [];
  #wake: (() => void) | null = null;

  push(s: TransferStatus): void {
    this.#queue.push(s);
    this.#wake?.();
  }

  async next(timeoutMs: number, signal?: AbortSignal): Promise<TransferStatus | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      if (signal?.aborted) throw new FaceedgeError('MODEL_TRANSFER_FAILED', 'model push aborted');
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
    }
    return this.#queue.shift()!;
  }

  clear(): void {
    this.#queue = [];
  }
}

export async function pushModelOverMqtt(options: MqttPushOptions): Promise<MqttPushResult> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const payload = await loadPayload(options.dir, chunkSize);
  const board = new MqttTopics(options.baseTopic ?? DEFAULT_BASE_TOPIC, options.deviceId);
  const topic = (part: ModelPushPart) => board.modelPushPart(payload.id, part);
  const answerMs = options.answerTimeoutMs ?? 15_000;
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(options.url, { reconnectPeriod: 1000, connectTimeout: 10_000, ...options.mqtt });
  } catch (cause) {
    throw new FaceedgeError('MQTT_FAILED', `cannot connect to ${redactUrl(options.url)}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const waiter = new StatusWaiter();
  client.on('message', (t, msg) => {
    if (t !== topic('status')) return;
    try {
      waiter.push(JSON.parse(msg.toString('utf8')) as TransferStatus);
    } catch {
      // not ours to judge: a malformed status is ignored and the round times out
    }
  });
  let sent = 0;
  try {
    await client.subscribeAsync(topic('status'), { qos: 1 });
    for (let round = 0; round < (options.maxRounds ?? 5); round++) {
      waiter.clear();
      await client.publishAsync(topic('begin'), JSON.stringify(payload.plan), { qos: 1 });
      const begun = await waitFor(waiter, ['receiving', 'failed'], answerMs, options.signal);
      if (!begun) continue; // no answer: ask again (the board may have been reconnecting)
      if (begun.state === 'failed') throw refused(begun);
      const missing = fromRanges(begun.missing ?? []);
      sent += await publishChunks(client, topic, payload, missing, options);
      await client.publishAsync(topic('commit'), '{}', { qos: 1 });
      const outcome = await waitForOutcome(waiter, answerMs, options.signal);
      if (!outcome) continue;
      if (outcome.state === 'installed')
        return { transferId: payload.id, status: outcome, chunksSent: sent, totalChunks: payload.plan.total_chunks };
      if (outcome.state === 'failed') throw refused(outcome);
      // `receiving` after commit: chunks were lost on the way; the next round resends them.
    }
    throw new FaceedgeError(
      'MODEL_TRANSFER_FAILED',
      `device ${options.deviceId} did not complete the transfer after ${options.maxRounds ?? 5} rounds`,
      {
        hint: 'is faceedge running on the board with the same broker, base topic and device id? Rerun the push to resume',
      },
    );
  } finally {
    await client.endAsync().catch(() => undefined);
  }
}

async function waitFor(
  waiter: StatusWaiter,
  states: TransferStatus['state'][],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<TransferStatus | null> {
  for (;;) {
    const s = await waiter.next(timeoutMs, signal);
    if (!s || states.includes(s.state)) return s;
  }
}

/** After commit: `verifying` extends the wait (loading and self-testing takes seconds on a Pi). */
async function waitForOutcome(
  waiter: StatusWaiter,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<TransferStatus | null> {
  let s = await waitFor(waiter, ['verifying', 'installed', 'failed', 'receiving'], timeoutMs, signal);
  if (s?.state === 'verifying')
    s = await waitFor(waiter, ['installed', 'failed'], Math.max(timeoutMs, 120_000), signal);
  return s;
}

async function publishChunks(
  client: MqttClient,
  topic: (part: ModelPushPart) => string,
  payload: Payload,
  chunks: number[],
  options: MqttPushOptions,
): Promise<number> {
  const { chunk_size: size, total_chunks: total } = payload.plan;
  let sent = 0;
  await mapWithLimit(chunks, options.window ?? 8, async (n) => {
    if (options.signal?.aborted) throw new FaceedgeError('MODEL_TRANSFER_FAILED', 'model push aborted');
    const data = payload.data.subarray(n * size, Math.min((n + 1) * size, payload.data.length));
    await client.publishAsync(topic(n), data.toString('base64'), { qos: 1 });
    sent++;
    options.onProgress?.({ sent, missing: chunks.length - sent, total });
  });
  return sent;
}

function refused(status: TransferStatus): FaceedgeError {
  const e = status.error ?? { code: 'MODEL_TRANSFER_FAILED', message: 'the device refused the model' };
  return new FaceedgeError(e.code as FaceedgeErrorCode, `device refused the model: ${e.message}`, {
    hint: e.hint ?? 'the previous model keeps serving',
  });
}
