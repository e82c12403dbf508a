/**
 * The board's gallery as a daemon service (`services.gallery`, null while `recognition.enabled` is off):
 * one `BoardGallery` on `recognition.gallery` under `recognition.key_file`, shared by every way the gallery
 * changes on the board (the enrolment part's bridge commands, the live view's "enrol this face"), each change
 * told on the bus as `galleryChanged`. Its photo tools are the daemon's detector and the board's one embedder
 * (src/daemon/shared-embedder.ts), the recognition part's. It reads the key once, here: recognition reads the
 * file through it (`BoardGallery.read`) and a gallery push opens its package with its key (`BoardGallery.key`).
 */
import { recognitionKeyFile } from '../recognition/recognition-config-schema.js';
import type { Logger } from 'pino';
import type { FaceedgeConfig } from '../config/config-schema.js';
import type { FaceDetector } from '../inference/face-detector.js';
import { BoardGallery } from '../recognition/board-gallery.js';
import { readGalleryKey } from '../recognition/gallery-key.js';
import { FaceedgeError } from '../errors.js';
import type { DaemonBus } from './daemon-bus.js';
import type { SharedEmbedder } from './shared-embedder.js';

/** The board's gallery, or null when recognition is off. Throws GALLERY_KEY_INVALID for an unusable key file. */
export async function boardGalleryService(
  config: FaceedgeConfig,
  o: {
    readonly bus: DaemonBus;
    readonly detector: FaceDetector;
    readonly embedder: SharedEmbedder | null;
    readonly log: Logger;
  },
): Promise<BoardGallery | null> {
  const recognition = config.recognition;
  if (!recognition.enabled) return null;
  const key = await readGalleryKey(recognitionKeyFile(recognition));
  const embedder = o.embedder;
  if (!embedder) throw new FaceedgeError('CONFIG_INVALID', 'recognition.enabled needs the board embedder');
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
