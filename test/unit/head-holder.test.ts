/**
 * The head's owner (src/daemon/head-holder.ts): swapped while many tracks are being embedded at once, every run
 * finishes on the head it started with, runs after the swap get the new head, the old head is closed only once
 * its last run has settled, and the swap is logged with ids (never an embedding). Real heads (models/age/head).
 */
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { HeadHolder } from '../../src/daemon/head-holder.js';
import { EmbeddingHead } from '../../src/inference/embedding-head.js';
import { agePairMissing, AGE_HEAD_DIR } from '../helpers/age-pair-fixture.js';

const missing = agePairMissing();
const paths = {
  modelPath: join(AGE_HEAD_DIR, 'faceedge-age-head_float32.tflite'),
  manifestPath: join(AGE_HEAD_DIR, 'manifest.json'),
};

/** A seeded unit vector of 128 values (no one's embedding). */
function unitVector(seed: number): Float32Array {
  const v = Float32Array.from({ length: 128 }, (_, i) => Math.sin(seed * 7.31 + i * 1.7));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/** A real head whose close() is observed. */
async function observedHead(): Promise<{ head: EmbeddingHead; closed: () => boolean }> {
  const head = await EmbeddingHead.create({ ...paths, threads: 1 });
  let closed = false;
  const close = head.close.bind(head);
  head.close = async () => {
    closed = true;
    await close();
  };
  return { head, closed: () => closed };
}

describe.skipIf(missing !== null)(`HeadHolder (${missing ?? 'models/age/head present'})`, () => {
  it('swaps under concurrent embeddings: runs finish on their head, the old one closes after its last run', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino(
      { level: 'info' },
      { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) },
    );
    const a = await observedHead();
    const b = await observedHead();
    const holder = new HeadHolder(a.head, paths, { model: 'age', log });
    const expected = await Promise.all(Array.from({ length: 8 }, (_, i) => a.head.logits(unitVector(i))));

    const used: EmbeddingHead[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // 40 runs begun before the swap, each held open until the gate opens (embeddings still in flight).
    const before = Array.from({ length: 40 }, (_, i) =>
      holder.use(async (h) => {
        used.push(h);
        const out = await h.logits(unitVector(i % 8));
        await gate;
        return out;
      }),
    );
    holder.swap(b.head, paths);
    expect(holder.current).toBe(b.head);
    // 40 runs after the swap, running at the same time as the old ones.
    const after = Array.from({ length: 40 }, (_, i) =>
      holder.use((h) => h.logits(unitVector(i % 8)).then((o) => [h, o] as const)),
    );
    const afterDone = await Promise.all(after);
    expect(afterDone.every(([h]) => h === b.head)).toBe(true);
    expect(a.closed()).toBe(false); // its runs are still open
    release();
    const beforeDone = await Promise.all(before);
    expect(used.every((h) => h === a.head)).toBe(true);
    beforeDone.forEach((out, i) => expect(out).toEqual(expected[i % 8]));
    afterDone.forEach(([, out], i) => expect(out).toEqual(expected[i % 8]));
    await new Promise((r) => setTimeout(r, 10));
    expect(a.closed()).toBe(true);
    expect(b.closed()).toBe(false);

    const swapped = lines.find((l) => l.msg === 'head swapped');
    expect(swapped).toMatchObject({
      model: 'age',
      from: { id: 'faceedge-age-head' },
      to: { id: 'faceedge-age-head' },
      running: 40,
    });
    expect(JSON.stringify(lines)).not.toMatch(/embedding"|logits/);
    await holder.close();
    expect(b.closed()).toBe(true);
  }, 60_000);

  it('closes a replaced head at once when nothing runs on it, and keeps serving runs on the new one', async () => {
    const a = await observedHead();
    const b = await observedHead();
    const holder = new HeadHolder(a.head, paths, { model: 'age', log: pino({ level: 'silent' }) });
    holder.swap(b.head, paths);
    await new Promise((r) => setTimeout(r, 10));
    expect(a.closed()).toBe(true);
    expect(await holder.use((h) => h.logits(unitVector(1)))).toHaveLength(6);
    await holder.close();
  }, 60_000);
});
