/**
 * The workstation's end of `faceedge model push <dir> --mqtt <url> --device <dev>`: checks the
 * package locally, then runs rounds of begin → (missing chunks) → commit until the board answers
 * `installed` or refuses the package. Each round resumes where the board is: its answer to `begin`
 * lists the chunks it has not stored yet (its acknowledgement of everything else), and only those are
 * sent. A round that gets no answer, loses chunks or loses the broker connection is retried after a
 * growing pause (1 s, 2 s, 4 s … at most 15 s), all inside one time bound (`timeoutMs`); giving up
 * names the cause of every failed round.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { DEFAULT_BASE_TOPIC, MqttTopics, type ModelPushPart } from '../mqtt/mqtt-topics.js';
import { redactUrl } from '../observability/redact-url.js';
import { mapWithLimit } from '../concurrency/map-with-limit.js';
import { FaceedgeError, type FaceedgeErrorCode } from '../errors.js';
import { DEFAULT_CHUNK_SIZE, fromRanges, type TransferStatus } from './mqtt-push-protocol.js';
import { loadPayload, type Payload } from './push-payload.js';
import { StatusInbox } from './push-status-inbox.js';

export interface MqttPushOptions {
  readonly dir: string;
  readonly url: string;
  readonly deviceId: string;
  /** The board's model to install into (`classifiers[].name`). Default: its first model. */
  readonly name?: string;
  /**
   * A head package to send with the image model in `dir`, as one pair (src/model-push/push-payload.ts); also
   * taken from `dir/head/` where there is one. A head package as `dir` is pushed alone.
   */
  readonly head?: string;
  /** Default `faceedge`. */
  readonly baseTopic?: string;
  /** Bytes of package per chunk. Default 64 KiB. */
  readonly chunkSize?: number;
  readonly mqtt?: IClientOptions;
  /**
   * How long to wait for the board's answer to begin/commit, ms. Default 15 000. Once the board says
   * `verifying`, its outcome is awaited for at least 120 000 (loading and self-testing takes seconds on a Pi).
   */
  readonly answerTimeoutMs?: number;
  /** The whole push, every retry included, ends within this, ms. Default 300 000. */
  readonly timeoutMs?: number;
  /** Rounds of begin → chunks → commit before giving up. Default 10. */
  readonly maxRounds?: number;
  /** Pause after the first failed round, ms; doubled after each further one, at most 15 000. Default 1 000. */
  readonly retryDelayMs?: number;
  /** Chunks in flight at once (QoS 1, acked by the broker). Default 8. */
  readonly window?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: { sent: number; missing: number; total: number }) => void;
  /** Told about each failed round that will be retried: its number (from 1), why it failed, the pause before the next. */
  readonly onRetry?: (r: { round: number; cause: string; waitMs: number }) => void;
}

export interface MqttPushResult {
  readonly transferId: string;
  readonly status: TransferStatus;
  /** Chunks published by this run (less than the total when it resumed). */
  readonly chunksSent: number;
  readonly totalChunks: number;
  /** Rounds it took (1 when nothing had to be retried). */
  readonly rounds: number;
  /** Why each retried round failed, in order. */
  readonly retries: readonly string[];
}

const MAX_RETRY_DELAY_MS = 15_000;
const VERIFY_TIMEOUT_MS = 120_000;

/** A round that did not end the push: why (to report, and to retry). */
class RoundFailed extends Error {}

/**
 * A status, marked when it answers a `begin`, and whether that was the last begin sent. The board
 * answers requests in the order they came, so while begins are unanswered a `receiving` is theirs. A
 * slow board's answer to an earlier round's begin is neither the answer to this round's begin (its
 * transfer may have been installed and removed since) nor to a commit, so it is passed over.
 */
type Answer = TransferStatus & { readonly answersBegin?: boolean; readonly latest?: boolean };

/** A board's refusal that a new round can repair: a chunk corrupted on the way. */
const RETRYABLE_REFUSALS = new Set(['MODEL_CHECKSUM_MISMATCH']);

export async function pushModelOverMqtt(options: MqttPushOptions): Promise<MqttPushResult> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const payload = await loadPayload(options.dir, chunkSize, options.name, options.head);
  const board = new MqttTopics(options.baseTopic ?? DEFAULT_BASE_TOPIC, options.deviceId);
  const topic = (part: ModelPushPart) => board.modelPushPart(payload.id, part);
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  const maxRounds = options.maxRounds ?? 10;
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(options.url, { reconnectPeriod: 1000, connectTimeout: 10_000, ...options.mqtt });
  } catch (cause) {
    throw new FaceedgeError('MQTT_FAILED', `cannot connect to ${redactUrl(options.url)}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const inbox = new StatusInbox<Answer>(options.signal);
  let drops = 0;
  client.on('close', () => drops++);
  const round = new PushRound(client, topic, payload, options, inbox, deadline);
  client.on('message', (t, msg) => {
    if (t !== topic('status')) return;
    let s: TransferStatus;
    try {
      s = JSON.parse(msg.toString('utf8')) as TransferStatus;
    } catch {
      return; // not ours to judge: a malformed status is ignored and the round times out
    }
    inbox.push(round.received(s));
  });
  const retries: string[] = [];
  try {
    await round.bounded(client.subscribeAsync(topic('status'), { qos: 1 }), 'subscribing to the status');
    for (let n = 1; ; n++) {
      const dropsBefore = drops;
      try {
        const status = await round.run();
        return {
          transferId: payload.id,
          status,
          chunksSent: round.sent,
          totalChunks: payload.plan.total_chunks,
          rounds: n,
          retries,
        };
      } catch (err) {
        if (!(err instanceof RoundFailed)) throw err;
        const lost = drops - dropsBefore;
        retries.push(`round ${n}: ${err.message}${lost > 0 ? ` (the broker connection dropped ${lost}×)` : ''}`);
      }
      const waitMs = Math.min((options.retryDelayMs ?? 1000) * 2 ** (n - 1), MAX_RETRY_DELAY_MS);
      if (n >= maxRounds || Date.now() + waitMs >= deadline) throw giveUp(options, n, deadline, retries);
      options.onRetry?.({ round: n, cause: retries.at(-1)!, waitMs });
      await inbox.sleep(waitMs);
    }
  } finally {
    await client.endAsync().catch(() => undefined);
  }
}

/** One begin → chunks → commit exchange; `run()` resolves with `installed`, throws RoundFailed to retry. */
class PushRound {
  sent = 0;
  /** When each unanswered begin was published, oldest first (see Answer). */
  readonly #beginsAt: number[] = [];
  /** When the last commit was published, until its `verifying` comes. */
  #commitAt: number | null = null;
  /** The slowest answer seen so far, ms: a board this slow gets twice as long before a round gives up. */
  #slowestMs = 0;

  readonly #client: MqttClient;
  readonly #topic: (part: ModelPushPart) => string;
  readonly #payload: Payload;
  readonly #options: MqttPushOptions;
  readonly #inbox: StatusInbox<Answer>;
  readonly #deadline: number;

  constructor(
    client: MqttClient,
    topic: (part: ModelPushPart) => string,
    payload: Payload,
    options: MqttPushOptions,
    inbox: StatusInbox<Answer>,
    deadline: number,
  ) {
    this.#client = client;
    this.#topic = topic;
    this.#payload = payload;
    this.#options = options;
    this.#inbox = inbox;
    this.#deadline = deadline;
  }

  /** Marks a status that answers an earlier begin, and learns from it how slow the board answers. */
  received(s: TransferStatus): Answer {
    const now = Date.now();
    const toBegin = s.state === 'receiving' || (s.state === 'verifying' && this.#commitAt === null);
    if (toBegin && this.#beginsAt.length > 0) {
      this.#slowestMs = Math.max(this.#slowestMs, now - this.#beginsAt.shift()!);
      return { ...s, answersBegin: true, latest: this.#beginsAt.length === 0 };
    }
    if (s.state === 'verifying' && this.#commitAt !== null) {
      this.#slowestMs = Math.max(this.#slowestMs, now - this.#commitAt);
      this.#commitAt = null;
    }
    return s;
  }

  /** How long to wait for an answer to begin or commit, ms. */
  get #answerMs(): number {
    const configured = this.#options.answerTimeoutMs ?? 15_000;
    return Math.max(configured, Math.min(2 * this.#slowestMs, VERIFY_TIMEOUT_MS));
  }

  async run(): Promise<TransferStatus> {
    const answerS = (ms: number) => `${Math.round(ms / 100) / 10} s`;
    this.#beginsAt.push(Date.now());
    await this.bounded(
      this.#client.publishAsync(this.#topic('begin'), JSON.stringify(this.#payload.plan), { qos: 1 }),
      'publishing begin',
    );
    // Answers to earlier begins (a slow board catching up) pass; `installed` ends the push whenever it comes.
    const waitMs = this.#answerMs;
    const beginUntil = Date.now() + waitMs;
    let begun: Answer | null;
    do begun = await this.#answer(['receiving', 'verifying'], beginUntil - Date.now());
    while (begun?.state === 'receiving' && !begun.latest);
    if (!begun) throw new RoundFailed(`no answer to begin within ${answerS(waitMs)}`);
    if (begun.state !== 'receiving') return this.#outcome(begun);
    const missing = fromRanges(begun.missing ?? []);
    this.sent += await this.bounded(this.#publishChunks(missing), `sending ${missing.length} chunks`);
    this.#commitAt = Date.now();
    await this.bounded(this.#client.publishAsync(this.#topic('commit'), '{}', { qos: 1 }), 'publishing commit');
    const commitWaitMs = this.#answerMs;
    const until = Date.now() + commitWaitMs;
    let answer: Answer | null;
    do answer = await this.#answer(['receiving', 'verifying'], until - Date.now());
    while (answer?.answersBegin);
    if (!answer) throw new RoundFailed(`no answer to commit within ${answerS(commitWaitMs)}`);
    if (answer.state === 'receiving') {
      const left = fromRanges(answer.missing ?? []).length;
      throw new RoundFailed(`after commit the board still missed ${left} of ${this.#payload.plan.total_chunks} chunks`);
    }
    return this.#outcome(answer);
  }

  /** `verifying` waits on for the install's end; `installed` resolves; `failed` refuses. */
  async #outcome(s: TransferStatus): Promise<TransferStatus> {
    if (s.state === 'verifying') {
      const end = await this.#answer([], Math.max(this.#answerMs, VERIFY_TIMEOUT_MS));
      if (!end) throw new RoundFailed(`the board verified the package for over ${VERIFY_TIMEOUT_MS / 1000} s`);
      s = end;
    }
    if (s.state === 'installed') return s;
    const e = s.error ?? { code: 'MODEL_TRANSFER_FAILED', message: 'the device refused the model' };
    if (RETRYABLE_REFUSALS.has(e.code))
      throw new RoundFailed(`the board refused the transfer: ${e.code}: ${e.message}`);
    throw new FaceedgeError(e.code as FaceedgeErrorCode, `device refused the model: ${e.message}`, {
      hint: e.hint ?? 'the previous model keeps serving',
    });
  }

  /** The next status in `states`, or `installed`/`failed` (always); null after `timeoutMs` or at the deadline. */
  #answer(states: TransferStatus['state'][], timeoutMs: number): Promise<Answer | null> {
    return this.#inbox.next(
      [...states, 'installed', 'failed'],
      Math.max(0, Math.min(timeoutMs, this.#deadline - Date.now())),
    );
  }

  async #publishChunks(chunks: number[]): Promise<number> {
    const { chunk_size: size, total_chunks: total } = this.#payload.plan;
    const data = this.#payload.data;
    let sent = 0;
    await mapWithLimit(chunks, this.#options.window ?? 8, async (n) => {
      this.#inbox.throwIfAborted();
      if (Date.now() >= this.#deadline) return; // bounded() reports it
      const chunk = data.subarray(n * size, Math.min((n + 1) * size, data.length));
      await this.#client.publishAsync(this.#topic(n), chunk.toString('base64'), { qos: 1 });
      sent++;
      this.#options.onProgress?.({ sent, missing: chunks.length - sent, total });
    });
    return sent;
  }

  /** `work`, unless the deadline passes or the push is aborted first (then a RoundFailed / the abort). */
  bounded<T>(work: Promise<T>, what: string): Promise<T> {
    const left = this.#deadline - Date.now();
    return this.#inbox.race(work, left, () => new RoundFailed(`${what} did not finish before the push's time ran out`));
  }
}

function giveUp(o: MqttPushOptions, rounds: number, deadline: number, causes: readonly string[]): FaceedgeError {
  const spentS = Math.round(((o.timeoutMs ?? 300_000) - (deadline - Date.now())) / 1000);
  return new FaceedgeError(
    'MODEL_TRANSFER_FAILED',
    `device ${o.deviceId} did not complete the transfer in ${rounds} round${rounds === 1 ? '' : 's'} over ${spentS} s: ${causes.join('; ')}`,
    {
      hint: 'is faceedge running on the board with the same broker, base topic and device id? Rerun the push to resume: the board keeps the chunks it stored',
    },
  );
}
