/**
 * A model-push sender at the protocol level, for tests that need to drive a board's receiver message
 * by message (two begins at once, chunks and then silence) rather than through `pushModelOverMqtt`'s
 * rounds. Transfers are synthetic: random bytes announced as one `manifest.json`, which the receiver
 * stores exactly like a real package until it assembles it.
 *
 *   const sender = await RawPushSender.connect(broker.url, 'cam1');
 *   const t = syntheticTransfer(200_000);
 *   await sender.begin(t);  const status = await sender.next(t.id);
 */
import { createHash, randomBytes } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import { MqttTopics } from '../../src/mqtt/mqtt-topics.js';
import type { TransferPlan, TransferStatus } from '../../src/model-push/mqtt-push-protocol.js';

export interface SyntheticTransfer {
  readonly id: string;
  readonly plan: TransferPlan;
  readonly data: Buffer;
}

/** `bytes` random bytes in chunks of `chunkSize`; `badSha` announces a sha256 the bytes do not have. */
export function syntheticTransfer(bytes: number, chunkSize = 16 * 1024, options: { badSha?: boolean } = {}) {
  const data = randomBytes(bytes);
  const sha = createHash('sha256')
    .update(options.badSha ? Buffer.from('other') : data)
    .digest('hex');
  const plan: TransferPlan = {
    files: [{ name: 'manifest.json', bytes, sha256: sha }],
    chunk_size: chunkSize,
    total_bytes: bytes,
    total_chunks: Math.ceil(bytes / chunkSize),
    model: { id: 'synthetic', version: `synthetic-${sha.slice(0, 12)}` },
  };
  const id = createHash('sha256').update(data).update(String(chunkSize)).digest('hex').slice(0, 32);
  return { id, plan, data } satisfies SyntheticTransfer;
}

export class RawPushSender {
  readonly #client: MqttClient;
  readonly #topics: MqttTopics;
  readonly #statuses = new Map<string, TransferStatus[]>();
  readonly #waiters = new Set<() => void>();

  private constructor(client: MqttClient, topics: MqttTopics) {
    this.#client = client;
    this.#topics = topics;
    client.on('message', (topic, payload) => {
      const parsed = topics.modelPushPartOf(topic);
      if (parsed?.part !== 'status') return;
      const list = this.#statuses.get(parsed.transfer) ?? [];
      list.push(JSON.parse(payload.toString('utf8')) as TransferStatus);
      this.#statuses.set(parsed.transfer, list);
      for (const wake of this.#waiters) wake();
    });
  }

  static async connect(url: string, deviceId: string): Promise<RawPushSender> {
    const client = await connectAsync(url, { reconnectPeriod: 0 });
    const topics = new MqttTopics('faceedge', deviceId);
    await client.subscribeAsync(topics.modelPushStatusFilter, { qos: 1 });
    return new RawPushSender(client, topics);
  }

  begin(t: Pick<SyntheticTransfer, 'id' | 'plan'>): Promise<unknown> {
    return this.#client.publishAsync(this.#topics.modelPushPart(t.id, 'begin'), JSON.stringify(t.plan), { qos: 1 });
  }

  async chunks(t: SyntheticTransfer, which: readonly number[]): Promise<void> {
    const size = t.plan.chunk_size;
    for (const n of which) {
      const chunk = t.data.subarray(n * size, Math.min((n + 1) * size, t.data.length));
      await this.#client.publishAsync(this.#topics.modelPushPart(t.id, n), chunk.toString('base64'), { qos: 1 });
    }
  }

  commit(t: Pick<SyntheticTransfer, 'id'>): Promise<unknown> {
    return this.#client.publishAsync(this.#topics.modelPushPart(t.id, 'commit'), '{}', { qos: 1 });
  }

  /** Every status the board published for `id` so far. */
  statuses(id: string): readonly TransferStatus[] {
    return this.#statuses.get(id) ?? [];
  }

  /** The `count`-th status for `id` (from 1), waiting up to `timeoutMs` for it. */
  async next(id: string, count = this.statuses(id).length + 1, timeoutMs = 10_000): Promise<TransferStatus> {
    const deadline = Date.now() + timeoutMs;
    while (this.statuses(id).length < count) {
      if (Date.now() > deadline) throw new Error(`no status #${count} for ${id} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 100);
        this.#waiters.add(wake);
      });
    }
    return this.statuses(id)[count - 1];
  }

  async end(): Promise<void> {
    await this.#client.endAsync();
  }
}
