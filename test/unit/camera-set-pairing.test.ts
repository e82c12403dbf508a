/**
 * The pair's calibration is tied to the image model it was fitted with (src/daemon/camera-set.ts): every swap
 * of a paired model (push, reload, rollback all come as one bus event) compares the new model file's sha256
 * with the head's `combination.with.sha256`, and warns once per swap, not once per camera, where they differ.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CameraSet } from '../../src/daemon/camera-set.js';
import { ClassifierSet, type NamedClassifier } from '../../src/daemon/classifier-set.js';
import { DaemonBus } from '../../src/daemon/daemon-bus.js';
import type { EmbeddingHead } from '../../src/inference/embedding-head.js';
import type { FaceClassifier } from '../../src/inference/face-classifier.js';

const FITTED = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);

function named(name: string, head: EmbeddingHead | null): NamedClassifier {
  return {
    name,
    holder: {} as NamedClassifier['holder'],
    intervalMs: undefined,
    storeDir: '/nowhere',
    configured: { model: '', manifest: '', head: null },
    head,
    heads: null,
  };
}

const head = {
  id: 'faceedge-age-head',
  manifest: { combination: { with: { sha256: FITTED } } },
  pairingFor: (sha256: string) => ({ temperature: 1, unsureFloor: 0.5, ...(sha256 !== FITTED && { imageOnly: true }) }),
} as unknown as EmbeddingHead;

describe('CameraSet: a swap of a paired model', () => {
  it('warns once per swap to a model the pair was not fitted with, and not for the fitted one', () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    const bus = new DaemonBus(log);
    // No camera needed: the swap is decided once for all of them.
    new CameraSet({
      cameras: [],
      classifiers: new ClassifierSet([named('gender', null), named('age', head)]),
      bus,
      log,
    } as unknown as ConstructorParameters<typeof CameraSet>[0]);
    const model = (sha256: string) => ({ sha256, unsureFloor: 0.3 }) as unknown as FaceClassifier;
    bus.emit('classifierChanged', 'age', model(OTHER)); // a retrained model of the same labels, pushed
    expect(lines.filter((l) => String(l.msg).includes('is not the one its head was paired with'))).toEqual([
      expect.objectContaining({ model: 'age', sha256: OTHER.slice(0, 12), pairedWith: FITTED.slice(0, 12) }),
    ]);
    bus.emit('classifierChanged', 'age', model(FITTED)); // rolled back to the fitted one
    bus.emit('classifierChanged', 'gender', model(OTHER)); // the first model: no head
    bus.emit('modelChanged', model(OTHER));
    expect(lines.filter((l) => String(l.msg).includes('paired with'))).toHaveLength(1);
  });
});
