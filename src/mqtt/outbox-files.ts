/**
 * The on-disk layout of the event outbox, kept apart from its queue logic:
 *
 * - `seg-<first seq, 16 digits>.jsonl`: append-only segments, one JSON entry per line, fsync'd per
 *   append. A crash can only tear the last line of the last segment; reading stops there.
 * - `acked`: append-only log of the acknowledged watermark (every seq ≤ it is delivered), one number
 *   per line; the last complete line wins. Compacted by write-to-temp + rename.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  truncateSync,
  writeSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';

/** One event as stored and published. */
export interface OutboxEntry {
  /** Monotonic per outbox directory, never reused (also across restarts). */
  readonly seq: number;
  /** Random UUID; consumers deduplicate redeliveries on it. */
  readonly id: string;
  readonly topic: string;
  /** The JSON body published (already carries `seq` and `id`). */
  readonly payload: Readonly<Record<string, unknown>>;
}

export const ACK_FILE = 'acked';
const SEGMENT_RE = /^seg-(\d{16})\.jsonl$/;

export function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.jsonl`;
}

/** Segment file names of `dir`, oldest first. */
export function listSegments(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => SEGMENT_RE.test(name))
    .sort();
}

/** Makes a newly created or renamed file's directory entry durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface SegmentRead {
  readonly entries: OutboxEntry[];
  /** Bytes of torn/corrupt tail removed (0 when the file was clean). */
  readonly truncatedBytes: number;
}

function isEntry(v: unknown): v is OutboxEntry {
  const e = v as OutboxEntry;
  return (
    typeof v === 'object' &&
    v !== null &&
    Number.isSafeInteger(e.seq) &&
    typeof e.id === 'string' &&
    typeof e.topic === 'string' &&
    typeof e.payload === 'object' &&
    e.payload !== null
  );
}

/**
 * Reads a segment's complete entries. A torn or corrupt tail (a crash mid-append) is cut off the file,
 * so the segment reads the same next time and nothing after the tear is ever trusted.
 */
export function readSegment(path: string): SegmentRead {
  const text = readFileSync(path);
  const entries: OutboxEntry[] = [];
  let goodEnd = 0;
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf(0x0a, start);
    if (nl < 0) break; // no newline: the last append did not finish
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.subarray(start, nl).toString('utf8'));
    } catch {
      break;
    }
    if (!isEntry(parsed)) break;
    entries.push(parsed);
    goodEnd = nl + 1;
    start = nl + 1;
  }
  const truncatedBytes = text.length - goodEnd;
  if (truncatedBytes > 0) truncateSync(path, goodEnd);
  return { entries, truncatedBytes };
}

/** Appends one entry and waits until it is on stable storage. */
export function appendEntry(fd: number, entry: OutboxEntry): void {
  writeSync(fd, JSON.stringify(entry) + '\n');
  fsyncSync(fd);
}

/** The acknowledged watermark stored in `dir` (0 when none). */
export function readAckWatermark(dir: string): number {
  let text: string;
  try {
    text = readFileSync(join(dir, ACK_FILE), 'utf8');
  } catch {
    return 0;
  }
  const lines = text.split('\n');
  lines.pop(); // the part after the last newline is either empty or a torn write
  for (let i = lines.length - 1; i >= 0; i--) {
    const n = Number(lines[i]);
    if (Number.isSafeInteger(n) && n >= 0) return n;
  }
  return 0;
}

/**
 * Appends the watermark to the ack log. Not fsync'd: a process crash keeps it (page cache), and the
 * worst a power cut can do is redeliver a few events, which consumers drop by `id`.
 */
export function appendAck(fd: number, watermark: number): void {
  writeSync(fd, `${watermark}\n`);
}

/** Replaces the ack log by a single line, atomically. */
export function compactAckLog(dir: string, watermark: number): void {
  const tmp = join(dir, `${ACK_FILE}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `${watermark}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, ACK_FILE));
  fsyncDir(dir);
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
