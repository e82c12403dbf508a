/**
 * The fleet-sim's loss check counts against each board's own published count (its outbox), so events
 * missing after the last one a consumer received are lost too — the old check (highest seq received
 * minus events received) could not see them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ACK_FILE, segmentName } from '../../src/mqtt/outbox-files.js';
import { accountEvents, outboxCount } from '../../scripts/fleet-sim-events.js';

const event = (device: string, seq: number) => ({
  topic: `faceedge/${device}/cam/events`,
  text: JSON.stringify({ type: 'new', seq, id: `${device}-${seq}` }),
});
const range = (device: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => event(device, from + i));

describe('fleet-sim event accounting', () => {
  const work = mkdtempSync(join(tmpdir(), 'faceedge-sim-events-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('counts events missing after the last one received as lost', () => {
    const counts = new Map([
      ['a', { published: 10, acknowledged: 10 }],
      ['b', { published: 5, acknowledged: 5 }],
    ]);
    const r = accountEvents([...range('a', 1, 8), ...range('b', 1, 5)], counts);
    expect(r).toMatchObject({ received: 13, published: 15, lost: 2, undelivered: 0, duplicates: 0, unexpected: 0 });
    expect(r.boards).toEqual({ a: { published: 10, received: 8, lost: 2, undelivered: 0, lost_seqs: [9, 10] } });
  });

  it('tells lost (acknowledged, never received) from undelivered (still on the board), and counts duplicates', () => {
    const counts = new Map([['a', { published: 6, acknowledged: 4 }]]);
    const r = accountEvents([...range('a', 1, 3), event('a', 3), event('x', 1)], counts);
    expect(r).toMatchObject({ received: 5, published: 6, lost: 1, undelivered: 2, duplicates: 1, unexpected: 1 });
    expect(r.boards.a).toMatchObject({ lost_seqs: [4], undelivered: 2 });
  });

  it("reads a board's own count from its outbox: the last seq, and what the broker acknowledged", () => {
    const dir = join(work, 'outbox');
    mkdirSync(dir);
    const line = (seq: number) => JSON.stringify({ seq, id: `e${seq}`, topic: 't', payload: { seq } }) + '\n';
    writeFileSync(join(dir, segmentName(7)), [7, 8, 9].map(line).join(''));
    writeFileSync(join(dir, ACK_FILE), '3\n8\n');
    expect(outboxCount(dir)).toEqual({ published: 9, acknowledged: 8 });
    // Every segment delivered and deleted: the ack log still knows the count.
    writeFileSync(join(dir, ACK_FILE), '9\n');
    rmSync(join(dir, segmentName(7)));
    expect(outboxCount(dir)).toEqual({ published: 9, acknowledged: 9 });
  });
});
