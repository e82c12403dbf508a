import { appendFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { EventOutbox } from '../../src/mqtt/event-outbox.js';
import { compactAckLog, readAckWatermark } from '../../src/mqtt/outbox-files.js';
import { waitUntil } from '../helpers/wait-until.js';

const log = silentLogger();
const newDir = () => mkdtempSync(join(tmpdir(), 'faceedge-outbox-'));
const open = (dir: string, maxEvents = 100, segmentMaxEvents = 1000, onDrop?: (n: number) => void) =>
  EventOutbox.open({ dir, maxEvents, segmentMaxEvents, log, onDrop });

describe('EventOutbox', () => {
  it('assigns increasing seq and unique ids, added to the payload', () => {
    const outbox = open(newDir());
    const a = outbox.append('t/door/events', { type: 'new' });
    const b = outbox.append('t/door/events', { type: 'end' });
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expect(a.id).not.toBe(b.id);
    expect(a.payload).toEqual({ type: 'new', seq: 1, id: a.id });
    expect(outbox.depth).toBe(2);
    outbox.close();
  });

  it('keeps unacknowledged events across reopen, in order, and never reuses a seq', () => {
    const dir = newDir();
    const first = open(dir);
    const entries = [1, 2, 3, 4].map((i) => first.append('t', { i }));
    first.ack(1);
    first.ack(2);
    first.close();
    const second = open(dir);
    expect(second.depth).toBe(2);
    expect(second.pendingFrom(0, 10)).toEqual(entries.slice(2));
    second.ack(3);
    second.ack(4);
    expect(second.depth).toBe(0);
    second.close();
    const third = open(dir);
    expect(third.depth).toBe(0);
    expect(third.append('t', {}).seq).toBe(5);
    third.close();
  });

  it('advances only over a contiguous prefix when acks arrive out of order', () => {
    const dir = newDir();
    const outbox = open(dir);
    for (let i = 0; i < 3; i++) outbox.append('t', { i });
    outbox.ack(2);
    expect(outbox.ackedWatermark).toBe(0);
    expect(outbox.depth).toBe(3);
    outbox.ack(1);
    expect(outbox.ackedWatermark).toBe(2);
    expect(outbox.depth).toBe(1);
    outbox.close();
    expect(readAckWatermark(dir)).toBe(2);
  });

  it('cuts off a torn last line left by a crash mid-append', () => {
    const dir = newDir();
    const outbox = open(dir);
    outbox.append('t', { i: 1 });
    outbox.append('t', { i: 2 });
    outbox.close();
    const [segment] = readdirSync(dir).filter((f) => f.startsWith('seg-'));
    appendFileSync(join(dir, segment!), '{"seq":3,"id":"x","topic":"t","pay');
    const reopened = open(dir);
    expect(reopened.pendingFrom(0, 10).map((e) => e.seq)).toEqual([1, 2]);
    expect(readFileSync(join(dir, segment!), 'utf8').endsWith('}\n')).toBe(true);
    expect(reopened.append('t', {}).seq).toBe(3);
    reopened.close();
  });

  it('is bounded: drops the oldest undelivered events, counts them, and remembers it on disk', () => {
    const dir = newDir();
    const drops: number[] = [];
    const outbox = open(dir, 3, 1000, (n) => drops.push(n));
    for (let i = 1; i <= 5; i++) outbox.append('t', { i });
    expect(outbox.depth).toBe(3);
    expect(outbox.droppedTotal).toBe(2);
    expect(drops).toEqual([1, 1]);
    expect(outbox.pendingFrom(0, 10).map((e) => e.payload.i)).toEqual([3, 4, 5]);
    outbox.ack(1); // a late PUBACK of a dropped event changes nothing
    expect(outbox.depth).toBe(3);
    outbox.close();
    expect(
      open(dir, 3)
        .pendingFrom(0, 10)
        .map((e) => e.payload.i),
    ).toEqual([3, 4, 5]);
  });

  it('rate-limits the "outbox full" warning without losing count: the warnings add up to every drop, the last one included', async () => {
    const lines: { msg: string; dropped: number; droppedTotal: number }[] = [];
    const capture = createLogger({ destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    const drops: number[] = [];
    const outbox = EventOutbox.open({
      dir: newDir(),
      maxEvents: 3,
      log: capture,
      onDrop: (n) => drops.push(n),
      dropWarnIntervalMs: 1000,
    });
    const warnings = () => lines.filter((l) => l.msg.startsWith('event outbox full'));
    const sum = () => warnings().reduce((total, w) => total + w.dropped, 0);
    for (let i = 1; i <= 16; i++) outbox.append('t', { i });
    expect(outbox.droppedTotal).toBe(13);
    // The first drop is warned at once; the rest of the window's drops wait for its end, none is lost.
    expect(warnings()[0]).toMatchObject({ dropped: 1, droppedTotal: 1 });
    await waitUntil(() => sum() === 13, 5000, 'warnings adding up to 13 drops');
    expect(warnings().at(-1)).toMatchObject({ droppedTotal: 13 });
    // A drop right after a warning (inside the next window), then close: close writes it.
    outbox.append('t', { i: 17 });
    outbox.close();
    const all = warnings();
    expect(all.at(-1)).toMatchObject({ dropped: 1, droppedTotal: 14 });
    expect(all.reduce((sum, w) => sum + w.dropped, 0)).toBe(14);
    expect(drops.reduce((a, b) => a + b, 0)).toBe(14);
  });

  it("the window's last warning names the newest dropped event (upToSeq), even after acks moved the watermark on", async () => {
    const lines: { msg: string; dropped: number; upToSeq: number }[] = [];
    const capture = createLogger({ destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
    const outbox = EventOutbox.open({ dir: newDir(), maxEvents: 3, log: capture, dropWarnIntervalMs: 300 });
    const warnings = () => lines.filter((l) => l.msg.startsWith('event outbox full'));
    for (let i = 1; i <= 6; i++) outbox.append('t', { i });
    // seq 1 dropped and warned at once; seq 2 and 3 dropped inside the window, warned at its end.
    expect(warnings()).toEqual([expect.objectContaining({ dropped: 1, upToSeq: 1 })]);
    // The broker comes back before the window ends: 4 and 5 are delivered, the watermark moves to 5.
    outbox.ack(4);
    outbox.ack(5);
    expect(outbox.ackedWatermark).toBe(5);
    await waitUntil(() => warnings().length === 2, 5000, 'the end-of-window warning');
    expect(warnings()[1]).toMatchObject({ dropped: 2, upToSeq: 3 });
    outbox.close();
  });

  it('rotates segments and deletes the delivered ones', () => {
    const dir = newDir();
    const outbox = open(dir, 100, 2);
    for (let i = 1; i <= 5; i++) outbox.append('t', { i });
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-'))).toHaveLength(3);
    for (let s = 1; s <= 4; s++) outbox.ack(s);
    // seq 5 is in the segment being written; the two full, delivered segments are gone.
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-'))).toEqual(['seg-0000000000000005.jsonl']);
    expect(outbox.pendingFrom(0, 10).map((e) => e.seq)).toEqual([5]);
    expect(outbox.pendingFrom(5, 10).map((e) => e.seq)).toEqual([5]);
    expect(outbox.pendingFrom(6, 10)).toEqual([]);
    outbox.close();
  });

  it('compacts the ack log atomically and reads the last complete line', () => {
    const dir = newDir();
    appendFileSync(join(dir, 'acked'), '1\n2\n3\n4');
    expect(readAckWatermark(dir)).toBe(3);
    compactAckLog(dir, 9);
    expect(readFileSync(join(dir, 'acked'), 'utf8')).toBe('9\n');
  });

  it('refuses to append after close and reports an unusable directory as a typed error', () => {
    const outbox = open(newDir());
    outbox.close();
    outbox.close();
    expect(() => outbox.append('t', {})).toThrow(expect.objectContaining({ code: 'MQTT_FAILED' }));
    const notADir = join(newDir(), 'file');
    appendFileSync(notADir, 'x');
    expect(() => EventOutbox.open({ dir: join(notADir, 'outbox'), maxEvents: 10, log })).toThrow(
      expect.objectContaining({ code: 'MQTT_FAILED' }),
    );
  });
});
