/**
 * The board's gallery as a daemon service (`services.gallery`, null while `recognition.enabled` is off):
 * one `BoardGallery` on `recognition.gallery` under `recognition.key_file`, shared by every way the gallery
 * changes on the board (the enrolment part's bridge commands, the live view's "enrol this face"), each change
 * told on the bus as `galleryChanged`. Its photo tools are the daemon's detector and an embedder loaded on
 * the first photo to look at (a board nobody enrols on never loads it here).
 */
import type { Logger } from 'pino';
import type { FaceedgeConfig } from '../config/config-schema.js';
import type { FaceDetector } from '../inference/face-detector.js';
import { FaceEmbedder } from '../inference/face-embedder.js';
import { shippedEmbedderPath } from '../inference/shipped-model.js';
import { BoardGallery } from '../recognition/board-gallery.js';
import { readGalleryKey } from '../recognition/gallery-key.js';
import { FaceedgeError } from '../errors.js';
import type { DaemonBus } from './daemon-bus.js';
import type { DaemonParts } from './daemon-parts.js';

/** An embedder loaded once, on first use; a failed load is retried by the next caller. */
export class LazyEmbedder {
  readonly #modelPath: string;
  #loading: Promise<FaceEmbedder> | null = null;

  constructor(modelPath: string) {
    this.#modelPath = modelPath;
  }

  get(): Promise<FaceEmbedder> {
    this.#loading ??= FaceEmbedder.create({ modelPath: this.#modelPath }).catch((err: unknown) => {
      this.#loading = null;
      throw err;
    });
    return this.#loading;
  }

  async close(): Promise<void> {
    const loading = this.#loading;
    this.#loading = null;
    if (loading) await (await loading.catch(() => null))?.close();
  }
}

/** The board's gallery, or null when recognition is off. Throws GALLERY_KEY_INVALID for an unusable key file. */
export async function boardGalleryService(
  config: FaceedgeConfig,
  o: { readonly bus: DaemonBus; readonly detector: FaceDetector; readonly log: Logger; readonly parts: DaemonParts },
): Promise<BoardGallery | null> {
  const recognition = config.recognition;
  if (!recognition.enabled) return null;
  if (!recognition.key_file)
    throw new FaceedgeError('CONFIG_INVALID', 'recognition.enabled needs recognition.key_file');
  const key = await readGalleryKey(recognition.key_file);
  const embedder = o.parts.started(
    'enrolment embedder',
    new LazyEmbedder(recognition.model ?? shippedEmbedderPath()),
    (e) => e.close(),
  );
  return new BoardGallery({
    path: recognition.gallery,
    key,
    tools: async () => ({ detector: o.detector, embedder: await embedder.get() }),
    onChange: (contents) => {
      o.log.info({ version: contents.version, people: contents.people.length }, 'gallery changed');
      o.bus.emit('galleryChanged', contents);
    },
  });
}
