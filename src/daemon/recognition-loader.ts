/**
 * What recognition needs at start, loaded and checked (the recognition part, src/daemon/parts/): the
 * embedder and its threshold for the site's false-accept rate, the anti-spoofing network, and the board's
 * encrypted gallery. A missing gallery is an empty one (everyone is `unknown` until someone is enrolled); a
 * gallery that cannot be decrypted, or belongs to another embedder, stops the start with a clear error. The
 * gallery is read through the board's gallery service (src/daemon/board-gallery-service.ts), the one holder of
 * its key: the loader never reads the key file.
 */
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import type { FaceEmbedder } from '../inference/face-embedder.js';
import { shippedAntiSpoofPath } from '../inference/shipped-model.js';
import { AntiSpoofNetwork } from '../liveness/anti-spoof-network.js';
import type { GalleryContents } from '../recognition/gallery-contents.js';
import { manifestMargin } from '../recognition/gallery-identify.js';
import type { BoardGallery } from '../recognition/board-gallery.js';
import { recognitionThreshold, type MeasuredThreshold } from '../recognition/recognition-threshold.js';
import type { RecognitionConfig } from '../config/config-schema.js';

export interface RecognitionModels {
  readonly embedder: FaceEmbedder;
  readonly antiSpoof: AntiSpoofNetwork;
  /** The threshold in force and the false-accept rate it was measured for. */
  readonly threshold: MeasuredThreshold;
  readonly margin: number;
  readonly gallery: GalleryContents;
  /** Reads the board's gallery file again, as it is now (the file watcher's read; same key and model check). */
  readonly readGallery: () => Promise<GalleryContents>;
  /** Closes what the loader opened (the anti-spoofing network); the shared embedder stays open. */
  close(): Promise<void>;
}

/** Loads everything or nothing: what was loaded before a failure is closed again. */
export async function loadRecognition(
  config: RecognitionConfig,
  options: {
    /** The board's embedder (src/daemon/shared-embedder.ts): used, never closed here. */
    readonly embedder: FaceEmbedder;
    /** The board's gallery (`services.gallery`): the file is read through it, with its key. */
    readonly gallery: BoardGallery;
    readonly threads?: number;
  },
): Promise<RecognitionModels> {
  const opened: { close(): Promise<void> }[] = [];
  const closeAll = () => Promise.all(opened.map((m) => m.close())).then(() => undefined);
  try {
    const { embedder } = options;
    // Before the other loads: a `far` no threshold was measured for is a config error, said first.
    const threshold = recognitionThreshold(embedder.manifest.recognition, config.far);
    const antiSpoof = await AntiSpoofNetwork.create({ modelPath: shippedAntiSpoofPath(), threads: options.threads });
    opened.push(antiSpoof);
    const model = { id: embedder.id, dimensions: embedder.dimensions };
    const readGallery = () => options.gallery.read(model);
    const gallery = await readStartingGallery(readGallery);
    return {
      embedder,
      antiSpoof,
      threshold,
      margin: config.margin ?? manifestMargin(embedder.manifest.recognition),
      gallery,
      readGallery,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The gallery at start: a file that cannot be read stops the start, its error saying so. */
async function readStartingGallery(read: () => Promise<GalleryContents>): Promise<GalleryContents> {
  try {
    return await read();
  } catch (err) {
    if (!isFaceedgeError(err)) throw err;
    throw new FaceedgeError(err.code, `recognition cannot start: ${err.message}`, {
      hint: err.hint ?? 'check recognition.key_file and recognition.gallery',
      cause: err,
    });
  }
}
