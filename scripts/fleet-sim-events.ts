/**
 * The fleet-sim's event accounting: what each board says it published — its own outbox, which numbers
 * every event it ever produced (`seq`, from 1 on a fresh state dir, across restarts) and records what the
 * broker acknowledged — against what a consumer received. Counting against the board's own count, not
 * the highest `seq` received, also sees the events missing after the last one that arrived.
 */
import { join } from 'node:path';
import { FleetTopics } from '../src/mqtt/mqtt-topics.js';
import { listSegments, readAckWatermark, readSegment } from '../src/mqtt/outbox-files.js';

/** One board's own count, from its outbox. */
export interface BoardCount {
  /** Its last sequence number: the events it produced. */
  readonly published: number;
  /** Highest seq the broker acknowledged (everything up to it left the board). */
  readonly acknowledged: number;
}

/**
 * Reads the outbox in `dir` of a board that has stopped (a torn last line is cut off, as the daemon
 * would at its next start).
 */
export function outboxCount(dir: string): BoardCount {
  const acknowledged = readAckWatermark(dir);
  let published = acknowledged;
  for (const name of listSegments(dir))
    for (const e of readSegment(join(dir, name)).entries) published = Math.max(published, e.seq);
  return { published, acknowledged };
}

export interface BoardAccount {
  readonly published: number;
  /** Distinct events received. */
  readonly received: number;
  /** Acknowledged by the broker, never received. */
  readonly lost: number;
  /** Still in the board's outbox (never acknowledged). */
  readonly undelivered: number;
  /** The first lost sequence numbers (at most 10), to look them up in the board's log. */
  readonly lost_seqs: readonly number[];
}

export interface EventAccount {
  /** Messages received on the events topics (duplicates included). */
  readonly received: number;
  readonly published: number;
  readonly lost: number;
  readonly undelivered: number;
  /** Messages received more than once (QoS 1 is at least once; consumers deduplicate on `id`). */
  readonly duplicates: number;
  /** Events received from boards that were not counted, or with a seq past the board's own count. */
  readonly unexpected: number;
  /** Boards with something lost or undelivered. */
  readonly boards: Readonly<Record<string, BoardAccount>>;
}

/** Compares the consumer's `messages` (events topics) with each board's own count. */
export function accountEvents(
  messages: readonly { readonly topic: string; readonly text: string }[],
  counts: ReadonlyMap<string, BoardCount>,
  topics = new FleetTopics(),
): EventAccount {
  const seen = new Map<string, Set<number>>();
  let unexpected = 0;
  let malformed = 0;
  for (const m of messages) {
    const device = topics.parse(m.topic)?.device;
    const seq = (() => {
      try {
        return (JSON.parse(m.text) as { seq?: unknown }).seq;
      } catch {
        return undefined;
      }
    })();
    if (!device || typeof seq !== 'number') {
      malformed++;
      continue;
    }
    let set = seen.get(device);
    if (!set) seen.set(device, (set = new Set()));
    set.add(seq);
  }
  const boards: Record<string, BoardAccount> = {};
  let [published, lost, undelivered, distinct] = [0, 0, 0, 0];
  for (const [device, count] of counts) {
    const got = seen.get(device) ?? new Set<number>();
    const lostSeqs: number[] = [];
    for (let seq = 1; seq <= count.acknowledged; seq++) if (!got.has(seq)) lostSeqs.push(seq);
    const waiting = count.published - count.acknowledged;
    const received = [...got].filter((s) => s >= 1 && s <= count.published).length;
    unexpected += got.size - received;
    published += count.published;
    lost += lostSeqs.length;
    undelivered += waiting;
    distinct += got.size;
    if (lostSeqs.length > 0 || waiting > 0)
      boards[device] = {
        published: count.published,
        received,
        lost: lostSeqs.length,
        undelivered: waiting,
        lost_seqs: lostSeqs.slice(0, 10),
      };
  }
  for (const [device, got] of seen) {
    if (counts.has(device)) continue;
    unexpected += got.size;
    distinct += got.size;
  }
  return {
    received: messages.length - malformed,
    published,
    lost,
    undelivered,
    duplicates: messages.length - malformed - distinct,
    unexpected: unexpected + malformed,
    boards,
  };
}
