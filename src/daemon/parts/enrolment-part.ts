/**
 * Enrolment on the board (issue 23 §2): the gallery's bridge commands `faces/add` (a name and 1–8 base64
 * photos), `faces/remove` and `faces/list`, answered on `bridge/response/faces/<cmd>` with each photo's
 * quality and the outcome. Who may send them is the broker's business: under the fleet ACL only an operator
 * account may publish `bridge/request/faces/#` (src/fleet/broker-acl.ts). Each change is audited by the
 * bridge dispatcher (the name and the counts: never photos or embeddings) and told on the bus as
 * `galleryChanged`.
 *
 * The detector is the daemon's. The embedder is loaded on the first photo to look at and kept until the
 * daemon stops: a board nobody enrols on never holds it for this part. (When the recognition part exposes
 * its embedder as a service, `tools` should hand that one out instead of loading a second copy.)
 */
import { FaceEmbedder } from '../../inference/face-embedder.js';
import { shippedEmbedderPath } from '../../inference/shipped-model.js';
import { componentLogger } from '../../observability/logger.js';
import { BoardGallery, type EnrolmentOutcome } from '../../recognition/board-gallery.js';
import { parseFacesAddRequest, parseFacesRemoveRequest } from '../../recognition/enrolment-request.js';
import { readGalleryKey } from '../../recognition/gallery-key.js';
import type { GalleryPhotoTools } from '../../recognition/gallery-photo.js';
import type { RecognitionConfig } from '../../config/config-schema.js';
import { FaceedgeError } from '../../errors.js';
import { definePart } from '../daemon-part.js';

/** The embedder, loaded once on first use; a failed load is retried by the next request. */
class LazyEmbedder {
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

export const enrolmentPart = definePart({
  name: 'enrolment',
  slice: (config): RecognitionConfig | null => (config.recognition.enabled ? config.recognition : null),
  create: (recognition, { log, bus, services }) => {
    const embedder = new LazyEmbedder(recognition.model ?? shippedEmbedderPath());
    const partLog = componentLogger(log, 'enrolment');
    let gallery: BoardGallery | null = null;
    const ready = (): BoardGallery => {
      if (!gallery)
        throw new FaceedgeError('REQUEST_INVALID', 'the daemon is still starting: the gallery is not open yet');
      return gallery;
    };
    const tools = async (): Promise<GalleryPhotoTools> => ({
      detector: services.detector,
      embedder: await embedder.get(),
    });
    return {
      commands: {
        'faces/add': {
          run: (params) => {
            const request = parseFacesAddRequest(params, ready().bounds);
            return ready().enrol(request.name, request.photos);
          },
          describe: (_params, result) => {
            const r = result as EnrolmentOutcome;
            return { target: r.name, detail: { photos: r.photos.length, used: r.used, version: r.version } };
          },
        },
        'faces/remove': {
          run: (params) => ready().remove(parseFacesRemoveRequest(params).name),
          describe: (_params, result) => {
            const r = result as { removed: string; version: number };
            return { target: r.removed, detail: { version: r.version } };
          },
        },
        'faces/list': { run: () => ready().list(), readOnly: true },
      },
      start: async () => {
        const key_file = recognition.key_file;
        if (!key_file) throw new FaceedgeError('CONFIG_INVALID', 'recognition.enabled needs recognition.key_file');
        const key = await readGalleryKey(key_file);
        gallery = new BoardGallery({
          path: recognition.gallery,
          key,
          tools,
          onChange: (contents) => {
            partLog.info({ version: contents.version, people: contents.people.length }, 'gallery changed');
            bus.emit('galleryChanged', contents);
          },
        });
      },
      stop: () => embedder.close(),
    };
  },
});
