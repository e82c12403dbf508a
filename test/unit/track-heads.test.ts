/**
 * The heads' hand-over (src/daemon/track-heads.ts): every head reads each new track embedding off the caller,
 * and the values wait per camera until taken once; many tracks of several cameras at once, answers in any order.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { EmbeddingHead } from '../../src/inference/embedding-head.js';
import type { TrackRecognizer } from '../../src/pipeline/track-recognizer.js';
import { HeadHolder } from '../../src/daemon/head-holder.js';
import { TrackHeads, type NamedHead } from '../../src/daemon/track-heads.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A head whose log-probabilities are [embedding[0], embedding[1]], answered after a random delay (and its owner). */
function fakeHead(fail = false): NamedHead['head'] {
  const current = {
    logProbabilities: async (e: Float32Array) => {
      await sleep(Math.random() * 20);
      if (fail) throw new Error('invoke failed');
      return [e[0], e[1]];
    },
  } as unknown as EmbeddingHead;
  return { current, use: (fn) => fn(current) };
}

describe('TrackHeads', () => {
  it('hands every head’s value of every track out once, per camera, whatever order the heads answer in', async () => {
    const heads = new TrackHeads(
      [
        { name: 'age', head: fakeHead() },
        { name: 'mood', head: fakeHead() },
      ],
      pino({ level: 'silent' }),
    );
    for (let i = 0; i < 20; i++) heads.observe(i % 2 ? 'door' : 'gate', `t${i}`, Float32Array.from([i, -i]));
    await heads.idle();
    const door = heads.take('door');
    expect([...door.keys()].sort()).toEqual(['t1', 't11', 't13', 't15', 't17', 't19', 't3', 't5', 't7', 't9']);
    expect(door.get('t7')).toEqual(
      new Map([
        ['age', [7, -7]],
        ['mood', [7, -7]],
      ]),
    );
    expect(heads.take('door').size).toBe(0); // taken once
    expect(heads.take('gate').size).toBe(10);
  });

  it('keeps only the latest value of a track, and drops a forgotten track’s untaken value', async () => {
    const heads = new TrackHeads([{ name: 'age', head: fakeHead() }], pino({ level: 'silent' }));
    heads.observe('door', 't1', Float32Array.from([1, 1]));
    await heads.idle();
    heads.observe('door', 't1', Float32Array.from([2, 2]));
    heads.observe('door', 't2', Float32Array.from([3, 3]));
    await heads.idle();
    heads.forget('door', 't2');
    expect(heads.take('door')).toEqual(new Map([['t1', new Map([['age', [2, 2]]])]]));
  });

  it('wraps a recognizer: its identities as before, the heads’ values beside them, forget reaching both', async () => {
    const forgotten: string[] = [];
    const inner: TrackRecognizer = {
      observe: () => Promise.resolve(),
      takeChanges: () => new Map(),
      forget: (_camera, id) => forgotten.push(id),
    };
    const heads = new TrackHeads([{ name: 'age', head: fakeHead() }], pino({ level: 'silent' }));
    const wrapped = heads.around(inner);
    heads.observe('door', 't1', Float32Array.from([1, 0]));
    await heads.idle();
    wrapped.forget('door', 't1');
    expect(forgotten).toEqual(['t1']);
    expect(wrapped.takeHeadValues?.('door').size).toBe(0);
  });

  it('the wrapper still wakes the camera: watchChanges reaches the recognizer it wraps', () => {
    const watched: string[] = [];
    const inner: TrackRecognizer = {
      observe: () => Promise.resolve(),
      takeChanges: () => new Map(),
      forget: () => undefined,
      watchChanges: (camera) => {
        watched.push(camera);
        return () => undefined;
      },
    };
    const heads = new TrackHeads([{ name: 'age', head: fakeHead() }], pino({ level: 'silent' }));
    const wrapped = heads.around(inner);
    expect(wrapped.watchChanges).toBeTypeOf('function');
    wrapped.watchChanges?.('door', () => undefined);
    expect(watched).toEqual(['door']);
  });

  it('the wrapper wakes the camera when a head value for it arrives, after the decision did; unwatching stops both', async () => {
    let innerListeners = 0;
    const inner: TrackRecognizer = {
      observe: () => Promise.resolve(),
      takeChanges: () => new Map(),
      forget: () => undefined,
      watchChanges: () => {
        innerListeners++;
        return () => innerListeners--;
      },
    };
    const heads = new TrackHeads([{ name: 'age', head: fakeHead() }], pino({ level: 'silent' }));
    const wrapped = heads.around(inner);
    let woken = 0;
    const unwatch = wrapped.watchChanges?.('door', () => woken++);
    expect(innerListeners).toBe(1);
    heads.observe('gate', 't1', Float32Array.from([1, 0])); // another camera's track
    await heads.idle();
    expect(woken).toBe(0);
    heads.observe('door', 't2', Float32Array.from([1, 0]));
    expect(woken).toBe(0); // the head answers off the caller
    await heads.idle();
    expect(woken).toBe(1);
    expect(wrapped.takeHeadValues?.('door').get('t2')).toEqual(new Map([['age', [1, 0]]]));
    unwatch?.();
    expect(innerListeners).toBe(0);
    heads.observe('door', 't2', Float32Array.from([2, 0]));
    await heads.idle();
    expect(woken).toBe(1);
  });

  it('a failing head costs only its value: the track keeps the image model, logged once', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (l: string) => lines.push(l) });
    const heads = new TrackHeads([{ name: 'age', head: fakeHead(true) }], log);
    heads.observe('door', 't1', Float32Array.from([1, 0]));
    heads.observe('door', 't2', Float32Array.from([1, 0]));
    await heads.idle();
    expect(heads.take('door').size).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/a head on the embedding failed/);
  });

  it('swaps a head while many tracks are embedded: a value of the replaced head that lands after the swap, or of a head not paired with the serving image model, is never handed out', async () => {
    /** A head answering [tag, e[0]] after a random delay, paired or not, its close observed. */
    const head = (tag: number, paired = true) => {
      let closed = false;
      const h = {
        id: `head-${tag}`,
        sha256: String(tag).repeat(64),
        logProbabilities: async (e: Float32Array) => {
          await sleep(Math.random() * 30);
          if (closed) throw new Error('run on a closed head');
          return [tag, e[0]];
        },
        pairingFor: () =>
          paired ? { temperature: 1, unsureFloor: 0.5 } : { temperature: 1, unsureFloor: 0.5, imageOnly: true },
        close: async () => void (closed = true),
      } as unknown as EmbeddingHead;
      return { h, closed: () => closed };
    };
    const [a, b, unpaired] = [head(1), head(2), head(3, false)];
    const paths = { modelPath: 'a', manifestPath: 'a' };
    const holder = new HeadHolder(a.h, paths, { model: 'age', log: pino({ level: 'silent' }) });
    const heads = new TrackHeads(
      [{ name: 'age', head: holder, paired: (h) => h.pairingFor('serving')?.imageOnly !== true }],
      pino({ level: 'silent' }),
    );
    for (let i = 0; i < 50; i++) heads.observe(i % 2 ? 'door' : 'gate', `old${i}`, Float32Array.from([i, 0]));
    holder.swap(b.h, paths); // while those 50 runs are in flight
    for (let i = 0; i < 50; i++) heads.observe(i % 2 ? 'door' : 'gate', `new${i}`, Float32Array.from([i, 0]));
    await heads.idle();
    const values = [...heads.take('door').values(), ...heads.take('gate').values()].map((m) => m.get('age'));
    // Every run after the swap answered from the new head; none of the old head's values came out after it.
    expect(values).toHaveLength(50);
    expect(values.every((v) => v?.[0] === 2)).toBe(true);
    expect(a.closed()).toBe(true); // closed once its last run settled, and no run failed on it
    expect(b.closed()).toBe(false);
    // A head not paired with the serving image model: its values are not handed out (the image model decides).
    holder.swap(unpaired.h, paths);
    heads.observe('door', 'x', Float32Array.from([1, 0]));
    await heads.idle();
    expect(heads.take('door').size).toBe(0);
  });
});
