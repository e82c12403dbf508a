/**
 * Persistent, bounded, ordered queue of MQTT events. Every event is fsync'd to an append-only
 * segment before `append()` returns, so nothing produced while the broker is down, or before a crash,
 * is lost; an event leaves the queue only when `ack()` says the broker acknowledged it (PUBACK).
 * The acknowledged watermark survives restarts, so a new instance over the same directory resends
 * exactly the events that were never acknowledged, in order.
 *
 * Appends are synchronous on purpose: one fsync per track event (not per frame) costs about a
 * millisecond on an SD card and keeps ordering trivial.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { FaceedgeError } from '../errors.js';
import {
  ACK_FILE,
  appendAck,
  appendEntry,
  compactAckLog,
  fileSize,
  fsyncDir,
  listSegments,
  readAckWatermark,
  readSegment,
  segmentName,
  type OutboxEntry,
} from './outbox-files.js';

export type { OutboxEntry } from './outbox-files.js';

export interface EventOutboxOptions {
  /** Directory of the segments and the ack log; created if missing. */
  readonly dir: string;
  /** Undelivered events kept; appending past it drops the oldest (counted, warned). */
  readonly maxEvents: number;
  /** Events per segment file before a new one is started. Default 1000. */
  readonly segmentMaxEvents?: number;
  readonly log: Logger;
  /** Called with the number of events dropped because the outbox was full. */
  readonly onDrop?: (count: number) => void;
  /** At most one "outbox full" warning per this many ms. Default 10 000. */
  readonly dropWarnIntervalMs?: number;
}

interface Segment {
  readonly name: string;
  readonly firstSeq: number;
  lastSeq: number;
  count: number;
}

/** The ack log is rewritten once it grows past this many bytes. */
const ACK_LOG_COMPACT_BYTES = 64 * 1024;
/**
 * At most one "outbox full" warning per this many ms. Drops inside a window are summed into one
 * warning written when the window ends (or at close), so the warnings add up to `droppedTotal`.
 */
const DROP_WARN_INTERVAL_MS = 10_000;

export class EventOutbox {
  readonly #pending: OutboxEntry[] = [];
  #head = 0;
  readonly #ackedAhead = new Set<number>();
  readonly #segments: Segment[] = [];
  #writeFd: number | null = null;
  #ackFd: number | null = null;
  #ackLogBytes = 0;
  #dropped = 0;
  #droppedSinceWarn = 0;
  /** Seq of the newest event dropped so far: what the next warning reports as `upToSeq`. */
  #lastDroppedSeq = 0;
  #lastDropWarn = 0;
  /** Writes the summary of drops made since the last warning, at the end of the rate-limit window. */
  #dropWarnTimer: NodeJS.Timeout | null = null;
  #closed = false;

  readonly #options: EventOutboxOptions;
  #watermark: number;
  #nextSeq: number;

  private constructor(options: EventOutboxOptions, watermark: number, nextSeq: number) {
    this.#options = options;
    this.#watermark = watermark;
    this.#nextSeq = nextSeq;
  }

  /** Opens (or creates) the outbox in `options.dir` and loads the undelivered events. */
  static open(options: EventOutboxOptions): EventOutbox {
    if (!Number.isInteger(options.maxEvents) || options.maxEvents < 1) {
      throw new FaceedgeError('USAGE', `outbox maxEvents must be a positive integer, got ${options.maxEvents}`);
    }
    const dir = options.dir;
    try {
      mkdirSync(dir, { recursive: true });
      const watermark = readAckWatermark(dir);
      const outbox = new EventOutbox(options, watermark, watermark + 1);
      outbox.#load();
      outbox.#ackFd = openSync(join(dir, ACK_FILE), 'a');
      outbox.#ackLogBytes = fileSize(join(dir, ACK_FILE));
      return outbox;
    } catch (err) {
      if (err instanceof FaceedgeError) throw err;
      throw new FaceedgeError('MQTT_FAILED', `cannot open the event outbox in ${dir}: ${(err as Error).message}`, {
        hint: 'mqtt.outbox.dir (default <state_dir>/outbox) must be a writable directory',
        cause: err,
      });
    }
  }

  #load(): void {
    const { dir, log } = this.#options;
    let lastSeq = this.#watermark;
    for (const name of listSegments(dir)) {
      const { entries, truncatedBytes } = readSegment(join(dir, name));
      if (truncatedBytes > 0)
        log.warn({ segment: name, truncatedBytes }, 'outbox segment had a torn tail (crash during append); cut it off');
      if (entries.length === 0) {
        unlinkSync(join(dir, name));
        continue;
      }
      const segment: Segment = { name, firstSeq: entries[0]!.seq, lastSeq: entries.at(-1)!.seq, count: entries.length };
      for (const entry of entries) {
        if (entry.seq <= lastSeq && entry.seq > this.#watermark) {
          log.warn({ segment: name, seq: entry.seq }, 'outbox entry out of sequence; skipped');
          continue;
        }
        lastSeq = Math.max(lastSeq, entry.seq);
        if (entry.seq > this.#watermark) this.#pending.push(entry);
      }
      this.#segments.push(segment);
    }
    this.#nextSeq = lastSeq + 1;
    this.#deleteDeliveredSegments(true);
    if (this.#pending.length > 0)
      log.info(
        { pending: this.#pending.length, firstSeq: this.#pending[0]!.seq },
        'outbox has undelivered events from before',
      );
  }

  /** Events appended and not yet acknowledged. */
  get depth(): number {
    return this.#pending.length - this.#head;
  }

  /** Events dropped since open because the outbox was full. */
  get droppedTotal(): number {
    return this.#dropped;
  }

  /** Highest seq acknowledged (or dropped); every event up to it is done. */
  get ackedWatermark(): number {
    return this.#watermark;
  }

  /**
   * Stores one event durably and returns it with its `seq` and `id` (also added to the payload).
   * Throws FaceedgeError `MQTT_FAILED` when the disk write fails.
   */
  append(topic: string, body: Readonly<Record<string, unknown>>): OutboxEntry {
    this.#assertOpen();
    const seq = this.#nextSeq;
    const id = randomUUID();
    const entry: OutboxEntry = { seq, id, topic, payload: { ...body, seq, id } };
    try {
      appendEntry(this.#segmentFor(seq), entry);
    } catch (err) {
      throw new FaceedgeError(
        'MQTT_FAILED',
        `cannot write to the event outbox in ${this.#options.dir}: ${(err as Error).message}`,
        {
          hint: 'check free space and permissions of mqtt.outbox.dir',
          cause: err,
        },
      );
    }
    this.#nextSeq = seq + 1;
    this.#pending.push(entry);
    if (this.depth > this.#options.maxEvents) this.#dropOldest(this.depth - this.#options.maxEvents);
    return entry;
  }

  /** Up to `limit` undelivered entries with seq ≥ `fromSeq`, oldest first. */
  pendingFrom(fromSeq: number, limit: number): OutboxEntry[] {
    let lo = this.#head;
    let hi = this.#pending.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#pending[mid]!.seq < fromSeq) lo = mid + 1;
      else hi = mid;
    }
    return this.#pending.slice(lo, lo + limit);
  }

  /** Marks `seq` delivered. Entries leave the queue in order; an early ack waits for the ones before it. */
  ack(seq: number): void {
    if (this.#closed || seq <= this.#watermark) return;
    this.#ackedAhead.add(seq);
    let advanced = false;
    while (this.#head < this.#pending.length && this.#ackedAhead.has(this.#pending[this.#head]!.seq)) {
      const entry = this.#pending[this.#head++]!;
      this.#ackedAhead.delete(entry.seq);
      this.#watermark = entry.seq;
      advanced = true;
    }
    if (advanced) this.#persistWatermark();
  }

  /** Closes the files; pending events stay on disk for the next open. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#warnDrops();
    if (this.#writeFd !== null) closeSync(this.#writeFd);
    if (this.#ackFd !== null) closeSync(this.#ackFd);
    this.#writeFd = this.#ackFd = null;
  }

  #dropOldest(count: number): void {
    const victims = this.#pending.slice(this.#head, this.#head + count);
    this.#head += victims.length;
    for (const v of victims) this.#ackedAhead.delete(v.seq);
    this.#watermark = this.#lastDroppedSeq = victims.at(-1)!.seq;
    this.#persistWatermark();
    this.#dropped += victims.length;
    this.#droppedSinceWarn += victims.length;
    this.#options.onDrop?.(victims.length);
    const interval = this.#options.dropWarnIntervalMs ?? DROP_WARN_INTERVAL_MS;
    const wait = this.#lastDropWarn + interval - Date.now();
    if (wait <= 0) this.#warnDrops();
    else this.#dropWarnTimer ??= setTimeout(() => this.#warnDrops(), wait).unref();
  }

  /**
   * Logs the drops not reported yet (if any): `dropped` since the last warning, `droppedTotal` since open,
   * and `upToSeq`, the newest event dropped. Not the watermark: a warning written at the end of its window
   * comes after acks that may have moved the watermark past the dropped events.
   */
  #warnDrops(): void {
    if (this.#dropWarnTimer !== null) clearTimeout(this.#dropWarnTimer);
    this.#dropWarnTimer = null;
    if (this.#droppedSinceWarn === 0) return;
    this.#options.log.warn(
      {
        dropped: this.#droppedSinceWarn,
        droppedTotal: this.#dropped,
        maxEvents: this.#options.maxEvents,
        upToSeq: this.#lastDroppedSeq,
      },
      'event outbox full: dropped the oldest undelivered events',
    );
    this.#lastDropWarn = Date.now();
    this.#droppedSinceWarn = 0;
  }

  #persistWatermark(): void {
    appendAck(this.#ackFd!, this.#watermark);
    this.#ackLogBytes += String(this.#watermark).length + 1;
    if (this.#ackLogBytes > ACK_LOG_COMPACT_BYTES) {
      closeSync(this.#ackFd!);
      compactAckLog(this.#options.dir, this.#watermark);
      this.#ackFd = openSync(join(this.#options.dir, ACK_FILE), 'a');
      this.#ackLogBytes = fileSize(join(this.#options.dir, ACK_FILE));
    }
    this.#deleteDeliveredSegments(false);
    // Reclaim the consumed prefix of the in-memory queue now and then rather than shifting per ack.
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** The fd to append `seq` to, starting a new segment when there is none or the current one is full. */
  #segmentFor(seq: number): number {
    const current = this.#writeFd !== null ? this.#segments.at(-1) : undefined;
    if (this.#writeFd !== null && current && current.count < (this.#options.segmentMaxEvents ?? 1000)) {
      current.count++;
      current.lastSeq = seq;
      return this.#writeFd;
    }
    if (this.#writeFd !== null) closeSync(this.#writeFd);
    this.#writeFd = null;
    const name = segmentName(seq);
    // Never append to a segment from a previous run: its tail may have been torn.
    const fd = openSync(join(this.#options.dir, name), 'a');
    fsyncDir(this.#options.dir);
    this.#writeFd = fd;
    this.#segments.push({ name, firstSeq: seq, lastSeq: seq, count: 1 });
    this.#deleteDeliveredSegments(false);
    return fd;
  }

  /** Deletes segments whose every event is at or below the watermark (never the one being written). */
  #deleteDeliveredSegments(includeLast: boolean): void {
    while (this.#segments.length > 0) {
      const oldest = this.#segments[0]!;
      const isWriting = this.#writeFd !== null && this.#segments.length === 1;
      if (oldest.lastSeq > this.#watermark || (isWriting && !includeLast)) break;
      this.#segments.shift();
      unlinkSync(join(this.#options.dir, oldest.name));
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new FaceedgeError('MQTT_FAILED', 'the event outbox is closed');
  }
}
