import { describe, expect, test } from 'vitest';
import { comparableEvents } from '../arm64/daemon-clip-run.js';

const snapshot = (id: string, end: number | null) => ({
  id,
  camera: 'clip',
  box: { x: 50.7, y: 77.8, width: 69.4, height: 69.4 },
  class: 'female',
  score: 0.891,
  top_score: 0.922,
  frames: 3,
  start_time: 1796010079.122,
  end_time: end,
  model: 'faceedge-gender',
});

describe('comparableEvents (the arm64 parity daemon run)', () => {
  test('drops wall-clock values and message ids, renames track ids by first appearance, keeps the rest', () => {
    const events = [
      {
        type: 'new',
        before: null,
        after: snapshot('clip-7', null),
        seq: 1,
        id: '68b72b5c-45fb-49aa-896b-c11cae2f3aa5',
      },
      {
        type: 'new',
        before: null,
        after: snapshot('clip-9', null),
        seq: 2,
        id: '1ee4567f-b46a-44e7-b9cb-0900bf0cd581',
      },
      {
        type: 'end',
        before: snapshot('clip-7', null),
        after: snapshot('clip-7', 1796010080.3),
        seq: 3,
        id: 'c0ffee00-0000-4000-8000-000000000000',
      },
    ];
    const { id: _, start_time: _s, end_time: _e, ...kept } = snapshot('x', null);
    expect(comparableEvents(events)).toEqual([
      { type: 'new', seq: 1, before: null, after: { ...kept, id: 'track-1', ended: false } },
      { type: 'new', seq: 2, before: null, after: { ...kept, id: 'track-2', ended: false } },
      {
        type: 'end',
        seq: 3,
        before: { ...kept, id: 'track-1', ended: false },
        after: { ...kept, id: 'track-1', ended: true },
      },
    ]);
  });

  test('the same events from runs with other track ids and times compare equal; a moved box does not', () => {
    const run = (prefix: string, t: number, x = 50.7) => [
      {
        type: 'new',
        before: null,
        after: { ...snapshot(`${prefix}-1`, null), start_time: t, box: { x, y: 1, width: 2, height: 2 } },
        seq: 1,
        id: `${prefix}-uuid`,
      },
    ];
    expect(comparableEvents(run('clip', 1))).toEqual(comparableEvents(run('clip-r2', 99)));
    expect(comparableEvents(run('clip', 1))).not.toEqual(comparableEvents(run('clip', 1, 50.8)));
  });
});
