/**
 * The heads on the face embedding, run where recognition runs (issue 24 §4): each time the recognizer has a
 * new mean embedding of a track (`TrackRecognizerOptions.onEmbedding`), every configured head reads it, off the
 * frame loop, and its log-probabilities wait here until the track's camera takes them
 * (`TrackRecognizer.takeHeadValues`, which the pipeline hands to its tracker). A head's answer comes after the
 * decision that made the embedding already woke the camera, so it wakes the camera again (`watchChanges`): the
 * pair is published between frames, not at the track's next update (which a person walking through may never
 * get). No second embedding is made, and no embedding is kept: a head's value is one probability per label.
 * Each run borrows its model's head from the head's owner (src/daemon/head-holder.ts), so a pushed pair or a
 * rollback swaps it while tracks are being embedded: runs begun before the swap finish on the old head.
 */
import type { Logger } from 'pino';
import type { EmbeddingHead, RunningEmbedder } from '../inference/embedding-head.js';
import type { TrackRecognizer } from '../pipeline/track-recognizer.js';
import type { ClassifierSet } from './classifier-set.js';
import type { HeadHolder } from './head-holder.js';

/** One model's head: the model's name (its attribute) and the owner of the head serving it. */
export interface NamedHead {
  readonly name: string;
  readonly head: Pick<HeadHolder, 'use' | 'current'>;
  /**
   * Whether `head` is paired with the image model serving now (default: always). A value of a head that is not
   * (during a pair's swap: the new head beside the old image model for a moment) is not handed out.
   */
  readonly paired?: (head: EmbeddingHead) => boolean;
}

type HeadValues = Map<string, Map<string, readonly number[]>>;

export class TrackHeads {
  readonly #heads: readonly NamedHead[];
  readonly #log: Logger;
  /** Per camera, per track, per model: the latest head values not yet taken. */
  readonly #pending = new Map<string, HeadValues>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Kinds of head failures already logged (each once). */
  readonly #failed = new Set<string>();
  /** Per camera: who is woken when a head value for it arrives (the camera's loop). */
  readonly #listeners = new Map<string, Set<() => void>>();

  constructor(heads: readonly NamedHead[], log: Logger) {
    this.#heads = heads;
    this.#log = log;
  }

  /** The heads of `classifiers`' models; null when none has one. */
  static of(classifiers: ClassifierSet, log: Logger): TrackHeads | null {
    const heads = classifiers.models.flatMap((m) =>
      m.heads
        ? [{ name: m.name, head: m.heads, paired: (h: EmbeddingHead) => pairedWithServing(h, m.holder.current.sha256) }]
        : [],
    );
    return heads.length > 0 ? new TrackHeads(heads, log) : null;
  }

  /** Throws `MODEL_INVALID` for the first head not trained on `embedder`'s embeddings (a start error). */
  checkEmbedder(embedder: RunningEmbedder): void {
    for (const { head } of this.#heads) head.current.checkEmbedder(embedder);
  }

  /** A new mean embedding of a track: every head reads it, off the caller (see the file's comment). */
  observe(camera: string, trackId: string, embedding: Float32Array): void {
    for (const { name, head, paired = () => true } of this.#heads) {
      const run = head
        .use(async (current) => {
          if (!paired(current)) return null;
          const values = await current.logProbabilities(embedding);
          // Swapped meanwhile (a pushed pair, a rollback): this head's values no longer belong with the image model.
          return current === head.current && paired(current) ? values : null;
        })
        .then((values) => {
          if (values) this.#store(camera, trackId, name, values);
        })
        .catch((err: unknown) => this.#failure(name, err))
        .finally(() => this.#inFlight.delete(run));
      this.#inFlight.add(run);
    }
  }

  /** The head values of `camera`'s tracks since the last call, each handed out once. */
  take(camera: string): ReadonlyMap<string, ReadonlyMap<string, readonly number[]>> {
    const values = this.#pending.get(camera);
    this.#pending.delete(camera);
    return values ?? new Map<string, ReadonlyMap<string, readonly number[]>>();
  }

  /** The track ended: a value not taken yet is dropped. */
  forget(camera: string, trackId: string): void {
    this.#pending.get(camera)?.delete(trackId);
  }

  /** Settles when no head is running (a clean stop before the models close). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  /** Calls `listener` each time a head value for `camera` arrives; returns the unsubscribe. */
  watchValues(camera: string, listener: () => void): () => void {
    let listeners = this.#listeners.get(camera);
    if (!listeners) this.#listeners.set(camera, (listeners = new Set()));
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /**
   * `recognizer` with these heads' values handed out beside its identities. Its `watchChanges` wakes the camera
   * for the recognizer's decisions and for the heads' values alike.
   */
  around(recognizer: TrackRecognizer): TrackRecognizer {
    return {
      watchChanges: (camera, listener) => {
        const unwatchRecognizer = recognizer.watchChanges?.(camera, listener);
        const unwatchHeads = this.watchValues(camera, listener);
        return () => {
          unwatchRecognizer?.();
          unwatchHeads();
        };
      },
      observe: (camera, faces, timestampMs, pixels) => recognizer.observe(camera, faces, timestampMs, pixels),
      takeChanges: (camera) => recognizer.takeChanges(camera),
      takeHeadValues: (camera) => this.take(camera),
      forget: (camera, trackId) => {
        recognizer.forget(camera, trackId);
        this.forget(camera, trackId);
      },
    };
  }

  #store(camera: string, trackId: string, name: string, values: readonly number[]): void {
    let byTrack = this.#pending.get(camera);
    if (!byTrack) this.#pending.set(camera, (byTrack = new Map()));
    let byModel = byTrack.get(trackId);
    if (!byModel) byTrack.set(trackId, (byModel = new Map()));
    byModel.set(name, values);
    for (const listener of this.#listeners.get(camera) ?? []) listener();
  }

  /** A head failed on one embedding: the track keeps its image model's decision; logged once per model. */
  #failure(name: string, err: unknown): void {
    if (this.#failed.has(name)) return;
    this.#failed.add(name);
    this.#log.error(
      { model: name, err: (err as Error).message },
      'a head on the embedding failed; the track keeps the image model alone',
    );
  }
}

/** A head's values count beside the image model file `imageModelSha256` only where its pair was fitted with it. */
function pairedWithServing(head: EmbeddingHead, imageModelSha256: string): boolean {
  return head.pairingFor(imageModelSha256)?.imageOnly !== true;
}
