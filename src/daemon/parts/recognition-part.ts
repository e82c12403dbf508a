/**
 * Known faces on the board, as a part (with `recognition.enabled`; issue 23 §3, §4): loads the embedder, the
 * anti-spoofing network and the board's encrypted gallery, plugs one recognizer into every camera (its
 * confirmed tracks' events carry `person` and `liveness`), follows the gallery as it changes
 * (`galleryChanged`), and keeps each camera's retained `<cam>/person` (src/mqtt/person-state.ts).
 *
 * It is also the one that watches the gallery file (src/recognition/gallery-file-watcher.ts), for changes made
 * beside the daemon (`faces add` / `faces remove`): a newer version read from the file is told on the bus as
 * `galleryChanged`, like the daemon's own changes. Announced contents not newer than those in use are ignored.
 *
 * Where a classifier has a head on the face embedding (`classifiers[].head`, issue 24 §4), the heads read each
 * track's mean embedding as the recognizer makes it (src/daemon/track-heads.ts); a head trained on another
 * embedder stops the start.
 *
 * Starts before the cameras. Logs each decision with names and numbers only: never an embedding, never a crop.
 */
import type { Logger } from 'pino';
import type { RecognitionConfig } from '../../config/config-schema.js';
import { TrackLivenessCheck } from '../../liveness/track-liveness-check.js';
import { CameraPersonState, NO_PERSON, type PersonState } from '../../mqtt/person-state.js';
import { componentLogger } from '../../observability/logger.js';
import type { GalleryContents } from '../../recognition/gallery-contents.js';
import { GalleryFileWatcher, isNewerGallery, type GalleryVersion } from '../../recognition/gallery-file-watcher.js';
import { GalleryTrackRecognizer, type TrackDecision } from '../../recognition/track-recognizer.js';
import type { DaemonBus } from '../daemon-bus.js';
import { definePart, type DaemonPart } from '../daemon-part.js';
import type { DaemonServices } from '../daemon-services.js';
import { loadRecognition, type RecognitionModels } from '../recognition-loader.js';
import { TrackHeads } from '../track-heads.js';

interface RecognitionSlice {
  readonly recognition: RecognitionConfig;
  readonly cameras: readonly string[];
  readonly threads: number;
}

class RecognitionPart implements DaemonPart {
  readonly #slice: RecognitionSlice;
  readonly #services: DaemonServices;
  readonly #log: Logger;
  readonly #bus: DaemonBus;
  readonly #people = new Map<string, CameraPersonState>();
  #models: RecognitionModels | null = null;
  #recognizer: GalleryTrackRecognizer<Uint8Array> | null = null;
  #heads: TrackHeads | null = null;
  #watcher: GalleryFileWatcher | null = null;
  /** Id and version of the gallery in use. */
  #inUse: GalleryVersion = { galleryId: '', version: 0 };

  constructor(slice: RecognitionSlice, bus: DaemonBus, services: DaemonServices, log: Logger) {
    this.#slice = slice;
    this.#bus = bus;
    this.#services = services;
    this.#log = log;
    for (const camera of slice.cameras) this.#people.set(camera, new CameraPersonState());
    bus.on('galleryChanged', (contents) => this.#follow(contents));
    bus.on('trackEvents', (camera, events) => {
      const changed = this.#people.get(camera)?.apply(events);
      if (changed) this.#publish(camera, changed);
    });
  }

  /** Recognizes against `contents` from now on, when they are newer than the gallery in use and of its model. */
  #follow(contents: GalleryContents): void {
    const models = this.#models;
    if (!models || !this.#recognizer) return;
    if (!isNewerGallery(contents, this.#inUse)) {
      this.#log.debug(
        { version: contents.version, in_use: this.#inUse.version },
        'an announced gallery is not newer than the one in use: ignored',
      );
      return;
    }
    const { id, dimensions } = models.embedder;
    if (contents.model.id !== id || contents.model.dimensions !== dimensions) {
      this.#log.error(
        { gallery_model: contents.model.id, model: id },
        'a gallery of another embedder was announced: ignored, the previous gallery stays in use',
      );
      return;
    }
    this.#recognizer.setGallery(contents);
    this.#inUse = { galleryId: contents.galleryId, version: contents.version };
    // The gallery service logs the change itself; here only that recognition follows it.
    this.#log.debug({ version: contents.version }, 'recognizing against the changed gallery');
  }

  async start(): Promise<void> {
    const { recognition, threads } = this.#slice;
    const { embedder: shared, gallery } = this.#services;
    if (!shared || !gallery) throw new Error('recognition is on but the daemon built no embedder or gallery');
    const models = await loadRecognition(recognition, { threads, embedder: await shared.get(), gallery });
    const heads = TrackHeads.of(this.#services.classifiers, this.#log);
    try {
      heads?.checkEmbedder(models.embedder);
    } catch (err) {
      await models.close(); // a failed start is not stopped: close what it opened
      throw err;
    }
    this.#models = models;
    this.#heads = heads;
    const liveness = new TrackLivenessCheck({ network: models.antiSpoof });
    this.#recognizer = new GalleryTrackRecognizer({
      embedder: models.embedder,
      liveness,
      gallery: models.gallery,
      threshold: models.threshold.threshold,
      margin: models.margin,
      embeddingsPerTrack: recognition.embeddings_per_track,
      onEmbedding: heads ? (camera, track, embedding) => heads.observe(camera, track, embedding) : undefined,
      onDecision: (d) => this.#logDecision(d),
      onError: (err, track) =>
        this.#log.error({ err: (err as Error).message, track }, 'recognition of a track failed; it stays unknown'),
      onFull: (max) =>
        this.#log.warn({ max_tracks: max }, 'too many tracks to recognize at once: new ones stay unknown'),
    });
    this.#inUse = { galleryId: models.gallery.galleryId, version: models.gallery.version };
    await this.#watchGallery(models);
    this.#services.cameras.setRecognizer(heads ? heads.around(this.#recognizer) : this.#recognizer);
    this.#bus.emit('galleryChanged', models.gallery); // the starting set, for the locks (they open for no one before)
    for (const camera of this.#slice.cameras) this.#publish(camera, NO_PERSON);
  }

  /** Follows changes of the gallery file made by other processes (see the file's comment). */
  async #watchGallery(models: RecognitionModels): Promise<void> {
    this.#watcher = new GalleryFileWatcher({
      path: this.#slice.recognition.gallery,
      read: models.readGallery,
      onChange: (contents) => {
        if (!isNewerGallery(contents, this.#inUse)) return; // this daemon's own change, already followed
        this.#log.info(
          { version: contents.version, people: contents.people.length },
          'the gallery file was changed by another process',
        );
        this.#bus.emit('galleryChanged', contents);
      },
      onError: (err) =>
        this.#log.error(
          { err: (err as Error).message },
          'the changed gallery file cannot be read: the previous gallery stays in use',
        ),
    });
    await this.#watcher.start();
  }

  async stop(): Promise<void> {
    await this.#watcher?.stop();
    // The cameras stopped first; decisions still running finish before their models close.
    await this.#recognizer?.idle();
    await this.#heads?.idle();
    await this.#models?.close();
    this.#models = null;
  }

  summary(): Record<string, unknown> {
    const m = this.#models;
    if (!m) return {};
    return {
      recognition: {
        model: m.embedder.id,
        threshold: m.threshold.threshold,
        far: m.threshold.far,
        margin: m.margin,
        people: m.gallery.people.length,
        liveness_model: m.antiSpoof.manifest.id,
      },
    };
  }

  #publish(camera: string, state: PersonState): void {
    this.#services.mqtt.setRetained(this.#services.mqtt.topics.person(camera), JSON.stringify(state));
  }

  #logDecision(d: TrackDecision): void {
    this.#log.info(
      {
        camera: d.camera,
        track: d.trackId,
        person: d.identity.person.name,
        similarity: d.identity.person.similarity,
        liveness: d.identity.liveness.outcome,
        liveness_score: d.identity.liveness.score,
        attempt: d.attempt,
        embedded: d.embedded,
        liveness_frames: d.livenessFrames,
        cause: d.cause,
      },
      'track recognized',
    );
  }
}

export const recognitionPart = definePart({
  name: 'recognition',
  slice: (config): RecognitionSlice | null =>
    config.recognition.enabled
      ? {
          recognition: config.recognition,
          cameras: config.cameras.map((c) => c.name),
          threads: config.classifier.threads,
        }
      : null,
  create: (slice, { bus, services, log }) =>
    new RecognitionPart(slice, bus, services, componentLogger(log, 'recognition')),
});
