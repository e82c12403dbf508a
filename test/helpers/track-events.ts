/**
 * Reading the daemon's `<cam>/events` stream as a subscriber does, and the checks every daemon test
 * makes on it: plausible payloads, one new … end life per track, `seq` order and unique ids.
 */
import { expect } from 'vitest';
import type { TrackSnapshot } from '../../src/pipeline/track-event.js';
import type { ProbeMessage } from './mqtt-probe.js';

/** One `<cam>/events` message as published: the track event plus the outbox's `seq` and `id`. */
export interface EventMessage {
  readonly type: 'new' | 'update' | 'end';
  readonly before: TrackSnapshot | null;
  readonly after: TrackSnapshot;
  readonly seq: number;
  readonly id: string;
}

/** The event messages among `messages` on `topic`, in arrival order. */
export function eventsOn(messages: readonly ProbeMessage[], topic: string): EventMessage[] {
  return messages.filter((m) => m.topic === topic).map((m) => JSON.parse(m.text) as EventMessage);
}

export interface Plausible {
  /** Frame size of the clip: every box must lie inside it. */
  readonly width: number;
  readonly height: number;
  readonly labels: readonly string[];
  readonly model: string;
  readonly camera: string;
  /** Smallest face side the config lets through (detector `min_face_px`). */
  readonly minFacePx: number;
  /** Wall-clock seconds before the daemon started: no track can start earlier. */
  readonly notBefore: number;
}

/** Asserts one event is self-consistent and physically possible for the clip. */
export function expectPlausible(e: EventMessage, p: Plausible): void {
  const a = e.after;
  const where = `${e.type} ${a.id} (seq ${e.seq})`;
  expect(['new', 'update', 'end'], where).toContain(e.type);
  expect(a.camera, where).toBe(p.camera);
  expect(a.model, where).toBe(p.model);
  expect(p.labels, where).toContain(a.class);
  expect(a.box.x, where).toBeGreaterThanOrEqual(0);
  expect(a.box.y, where).toBeGreaterThanOrEqual(0);
  expect(a.box.x + a.box.width, where).toBeLessThanOrEqual(p.width);
  expect(a.box.y + a.box.height, where).toBeLessThanOrEqual(p.height);
  expect(a.box.width, where).toBeGreaterThanOrEqual(p.minFacePx);
  // A face, not the whole frame.
  expect(a.box.height, where).toBeLessThan(p.height / 2);
  expect(Math.abs(a.face_area - a.box.width * a.box.height), where).toBeLessThanOrEqual(a.box.width + a.box.height);
  expect(a.score, where).toBeGreaterThanOrEqual(0);
  expect(a.score, where).toBeLessThanOrEqual(1);
  expect(a.top_score, where).toBeLessThanOrEqual(1);
  expect(a.frames, where).toBeGreaterThanOrEqual(1);
  expect(a.start_time, where).toBeGreaterThanOrEqual(p.notBefore);
  expect(a.start_time, where).toBeLessThanOrEqual(Date.now() / 1000);
  if (e.type === 'end') expect(a.end_time, where).toBeGreaterThanOrEqual(a.start_time);
  else expect(a.end_time, where).toBeNull();
  if (e.type === 'new') expect(e.before, where).toBeNull();
  else expect(e.before?.id, where).toBe(a.id);
  expect(e.id, where).toMatch(/^[0-9a-f-]{36}$/);
}

/**
 * Asserts the stream as a whole: every track starts with `new`, each `update`/`end` carries the
 * previous published snapshot as `before`, nothing follows an `end`; `seq` strictly increases in
 * arrival order (in order, no duplicate) and ids are unique. With `ended`, every track also has its `end`.
 */
export function expectTrackLives(events: readonly EventMessage[], options: { ended: boolean }): void {
  const last = new Map<string, EventMessage>();
  for (const e of events) {
    const prev = last.get(e.after.id);
    if (prev === undefined) expect(e.type, `first event of ${e.after.id}`).toBe('new');
    else {
      expect(prev.type, `event after the end of ${e.after.id}`).not.toBe('end');
      expect(e.type, `second new for ${e.after.id}`).not.toBe('new');
      expect(e.before, `before of ${e.type} ${e.after.id}`).toEqual(prev.after);
    }
    last.set(e.after.id, e);
  }
  if (options.ended) {
    for (const [id, e] of last) expect(e.type, `last event of ${id}`).toBe('end');
  }
  expectSeqOrder(events);
}

/** `seq` strictly increasing in arrival order and every `id` once: each event arrived once, in order. */
export function expectSeqOrder(events: readonly EventMessage[]): void {
  const seqs = events.map((e) => e.seq);
  for (let i = 1; i < seqs.length; i++) {
    expect(seqs[i], `seq at position ${i} of ${seqs.join(',')}`).toBeGreaterThan(seqs[i - 1]!);
  }
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
}
