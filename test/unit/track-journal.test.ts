import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { TrackJournal, trackNumber } from '../../src/pipeline/track-journal.js';
import type { TrackEvent, TrackSnapshot } from '../../src/pipeline/track-event.js';

const dir = mkdtempSync(join(tmpdir(), 'faceedge-track-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => join(dir, `tracks-${n++}.json`);

function snap(camera: string, id: string, start: number): TrackSnapshot {
  return {
    id,
    camera,
    box: { x: 1, y: 2, width: 30, height: 30 },
    face_area: 900,
    class: 'female',
    score: 0.9,
    top_score: 0.95,
    frames: 5,
    start_time: start,
    end_time: null,
    model: 'm',
  };
}
const ev = (type: TrackEvent['type'], s: TrackSnapshot): TrackEvent => ({
  type,
  before: null,
  after: type === 'end' ? { ...s, end_time: s.start_time + 1 } : s,
});

describe('TrackJournal', () => {
  it('numbers after the highest id ever published and ends the tracks left open, once', () => {
    const path = file();
    const first = TrackJournal.open(path, silentLogger());
    expect(first.firstNumber('door')).toBe(1);
    first.record(ev('new', snap('door', 'door-1', 100)), 101);
    first.record(ev('new', snap('door', 'door-2', 102)), 103);
    first.record(ev('update', snap('door', 'door-2', 102)), 104);
    first.record(ev('end', snap('door', 'door-1', 100)), 105);
    first.record(ev('new', snap('yard', 'yard-7', 90)), 106);

    const second = TrackJournal.open(path, silentLogger());
    expect(second.firstNumber('door')).toBe(3);
    expect(second.firstNumber('yard')).toBe(8);
    const ends = second.takeLeftovers();
    expect(ends.map((e) => [e.after.id, e.type, e.reason, e.after.end_time])).toEqual([
      ['yard-7', 'end', 'restart', 106],
      ['door-2', 'end', 'restart', 104],
    ]);
    expect(ends[1]!.before).toEqual(snap('door', 'door-2', 102));
    // Taken is forgotten, on disk too; the numbering is kept.
    const third = TrackJournal.open(path, silentLogger());
    expect(third.takeLeftovers()).toEqual([]);
    expect(third.firstNumber('door')).toBe(3);
  });

  it('starts empty on a corrupt file and replaces it', () => {
    const path = file();
    writeFileSync(path, '{"version":1,"cam');
    const journal = TrackJournal.open(path, silentLogger());
    expect(journal.takeLeftovers()).toEqual([]);
    journal.record(ev('new', snap('door', 'door-4', 1)));
    expect(JSON.parse(readFileSync(path, 'utf8')).cameras.door.last_number).toBe(4);
  });

  it('reads track numbers only from `<camera>-<n>` ids', () => {
    expect(trackNumber('door', 'door-12')).toBe(12);
    expect(trackNumber('door-2', 'door-2-5')).toBe(5);
    expect(trackNumber('door', 'yard-1')).toBeNull();
    expect(trackNumber('door', 'door-x')).toBeNull();
  });
});
