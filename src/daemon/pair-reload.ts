/**
 * Serving a model version as a pair (issue 24 §3): the image model and the head installed with it
 * (`versions/…/head/`), or, for a version without a head, the head configured for the model
 * (`classifiers[].head`; beside another image model it is "not paired" and the image model decides alone, as the
 * daemon warns). The head is loaded and checked beside the running one (self-test, labels, pairing, the running
 * embedder's pin) and swapped in first, then the image model: the image model's swap is what makes every camera
 * recompute the pair's settings (src/daemon/camera-set.ts), so they are computed with the new head. When the image
 * model does not load, the head it came with is swapped back out, and the old pair keeps serving.
 * Reloads of one model run one at a time (a push, the store watcher and a rollback may all ask at once).
 */
import type { Logger } from 'pino';
import { SerialQueue } from '../concurrency/serial-queue.js';
import type { RunningEmbedder } from '../inference/embedding-head.js';
import type { InstalledHead } from '../model-push/head-package.js';
import { loadHead, type NamedClassifier } from './classifier-set.js';

/** What to serve: an image model file, its manifest, and the head installed with it (null: the configured one). */
export interface PairTarget {
  readonly modelPath: string;
  readonly manifestPath: string;
  readonly head: InstalledHead | null;
}

/** The embedder the board runs, for the head's pin; null where it runs none (then no head runs). */
export type EmbedderOf = () => Promise<RunningEmbedder | null>;

const queues = new WeakMap<NamedClassifier, SerialQueue>();

/** Serves `target` for `model` (see the file's comment); throws (typed) and keeps the old pair on any refusal. */
export function reloadPair(model: NamedClassifier, target: PairTarget, embedder: EmbedderOf, log: Logger) {
  let queue = queues.get(model);
  if (!queue) queues.set(model, (queue = new SerialQueue()));
  return queue.run(() => swapPair(model, target, embedder, log));
}

async function swapPair(model: NamedClassifier, target: PairTarget, embedder: EmbedderOf, log: Logger) {
  const { heads } = model;
  const wanted = heads && (target.head ?? model.configured.head);
  const before = heads?.paths;
  let swapped = false;
  if (
    heads &&
    before &&
    wanted &&
    (wanted.modelPath !== before.modelPath || wanted.manifestPath !== before.manifestPath)
  ) {
    const next = await loadHead(model.name, wanted, model.holder.current.labels, log);
    try {
      const running = await embedder();
      if (running) next.checkEmbedder(running);
    } catch (err) {
      await next.close();
      throw err;
    }
    heads.swap(next, wanted);
    swapped = true;
  }
  try {
    return await model.holder.reload(target.modelPath, target.manifestPath);
  } catch (err) {
    if (heads && before && swapped) {
      // The old head was closed once idle: load it again from its files (unchanged on disk, checked before).
      heads.swap(await loadHead(model.name, before, model.holder.current.labels, log), before);
    }
    throw err;
  }
}
