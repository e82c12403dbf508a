/**
 * Who sent a request. An MQTT subscriber is never told who published a message, but the embedded broker runs
 * in the daemon's process and sees every publisher in its hooks: it writes the client id and user name of each
 * request down here (`record`), and the daemon takes them back (`take`) when the message reaches its own client.
 *
 * A request is recognised by its topic and the SHA-256 of its payload, so a request from another client
 * arriving at the same moment can never be credited to the wrong one: a different topic or payload is a
 * different key. Two clients sending the same bytes to the same topic are credited in the order the broker
 * received them, which is the order it delivers them in (one subscriber, in-order QoS 1). An entry not taken
 * within {@link PUBLISHER_TTL_MS} is forgotten, and at most {@link MAX_PENDING_PUBLISHERS} wait.
 *
 * With an external broker, its ACL decides who may publish and nobody tells the board who did: the origin then
 * says so ({@link EXTERNAL_BROKER_ORIGINS}).
 */
import { createHash } from 'node:crypto';

/** A request's publisher as the broker authenticated it. */
export interface RequestPublisher {
  readonly client_id: string;
  /** The login's user name; null for a broker without logins. */
  readonly username: string | null;
}

/** Who sent a request (null when the broker does not say) and through what. */
export interface RequestOrigin {
  readonly who: RequestPublisher | null;
  readonly via: string;
}

/** Where the daemon learns a received request's origin; `take` answers once per recorded publish. */
export interface RequestOrigins {
  take(topic: string, payload: Buffer): RequestOrigin;
}

/** What an external broker lets the board know: nothing but that its ACL admitted the publisher. */
export const EXTERNAL_BROKER_ORIGINS: RequestOrigins = {
  take: () => ({ who: null, via: 'external broker (ACL: operators)' }),
};

/** How long a recorded publisher waits for its message to reach the daemon, ms: 10 s. */
export const PUBLISHER_TTL_MS = 10_000;

/** Publishers waiting at most (the oldest is forgotten first): 1024. */
export const MAX_PENDING_PUBLISHERS = 1024;

const VIA_EMBEDDED = 'embedded broker';

interface Pending {
  readonly key: string;
  readonly who: RequestPublisher;
  readonly expires: number;
}

export class PublisherLedger implements RequestOrigins {
  /** Per topic and payload digest, the publishers in the order the broker received them. */
  readonly #byKey = new Map<string, Pending[]>();
  /** Every waiting entry in arrival order, for expiry and the bound. */
  #order: Pending[] = [];
  readonly #now: () => number;

  /** @param now clock in ms (tests). Default `Date.now`. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Entries waiting to be taken. */
  get pending(): number {
    return this.#order.length;
  }

  /** Called by the broker when `who` publishes `payload` on `topic`, before it delivers it. */
  record(topic: string, payload: Buffer, who: RequestPublisher): void {
    this.#expire();
    if (this.#order.length >= MAX_PENDING_PUBLISHERS) this.#forget(this.#order[0]);
    const entry: Pending = { key: keyOf(topic, payload), who, expires: this.#now() + PUBLISHER_TTL_MS };
    const queue = this.#byKey.get(entry.key);
    if (queue) queue.push(entry);
    else this.#byKey.set(entry.key, [entry]);
    this.#order.push(entry);
  }

  /** The publisher of this received message (the earliest waiting one with its topic and payload), once. */
  take(topic: string, payload: Buffer): RequestOrigin {
    this.#expire();
    const queue = this.#byKey.get(keyOf(topic, payload));
    const entry = queue?.[0];
    if (!entry) return { who: null, via: `${VIA_EMBEDDED} (publisher not recorded)` };
    this.#forget(entry);
    return { who: entry.who, via: VIA_EMBEDDED };
  }

  #expire(): void {
    const now = this.#now();
    while (this.#order.length > 0 && this.#order[0].expires <= now) this.#forget(this.#order[0]);
  }

  #forget(entry: Pending): void {
    const queue = this.#byKey.get(entry.key);
    if (queue) {
      const i = queue.indexOf(entry);
      if (i >= 0) queue.splice(i, 1);
      if (queue.length === 0) this.#byKey.delete(entry.key);
    }
    const j = this.#order.indexOf(entry);
    if (j >= 0) this.#order.splice(j, 1);
  }
}

function keyOf(topic: string, payload: Buffer): string {
  return `${topic}\u0000${createHash('sha256').update(payload).digest('hex')}`;
}
