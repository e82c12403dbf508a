/**
 * Enrolment on the board over MQTT (issue 23 §2): the gallery's bridge commands `faces/add` (a name and 1–8
 * base64 photos), `faces/remove` and `faces/list`, answered on `bridge/response/faces/<cmd>` with each
 * photo's quality and the outcome. Who may send them is the broker's business: under the fleet ACL only an
 * operator account may publish `bridge/request/faces/…` (src/fleet/broker-acl.ts). Each request is audited by
 * the bridge dispatcher (the name and the counts: never photos or embeddings); each change goes through the
 * board's gallery service, which tells it on the bus as `galleryChanged` and holds the gallery key (a push's
 * package is opened with it: this part never reads the key file).
 *
 * `faces/merge` takes a signed gallery package (src/model-push/gallery-package.ts, made by `faceedge faces
 * package`): verified against `models.public_key`, merged, never replacing the board's gallery, and refused
 * when older than what was merged from that source (src/model-push/gallery-push.ts).
 */
import { FACES_ADD_REQUEST_BYTES, FACES_MERGE_REQUEST_BYTES } from '../mqtt-packet-limit.js';
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  GALLERY_PUSH_FLOOR_FILE,
  GalleryPushReceiver,
  type GalleryPushOutcome,
} from '../../model-push/gallery-push.js';
import { readPublicKeys } from '../../model-push/model-signature.js';
import type { EnrolmentOutcome } from '../../recognition/board-gallery.js';
import { parseFacesAddRequest, parseFacesRemoveRequest } from '../../recognition/enrolment-request.js';
import { FaceedgeError } from '../../errors.js';
import { definePart } from '../daemon-part.js';

interface EnrolmentSlice {
  readonly stateDir: string;
  /** `models.public_key`: the keys that sign models sign galleries too. */
  readonly publicKey: string;
}

/** The trusted signing keys, read per push (a key installed later counts); none when the file is absent. */
async function trustedKeys(path: string): Promise<KeyObject[]> {
  return existsSync(path) ? readPublicKeys([path]) : [];
}

export const enrolmentPart = definePart({
  name: 'enrolment',
  slice: (config): EnrolmentSlice | null =>
    config.recognition.enabled ? { stateDir: config.state_dir, publicKey: config.models.public_key } : null,
  create: (slice, { services }) => {
    const gallery = () => {
      if (!services.gallery) throw new FaceedgeError('REQUEST_INVALID', 'recognition is off on this board');
      return services.gallery;
    };
    let pushes: GalleryPushReceiver | null = null;
    const pushReceiver = () => {
      const board = gallery();
      pushes ??= new GalleryPushReceiver({
        floorFile: join(slice.stateDir, GALLERY_PUSH_FLOOR_FILE),
        trustedKeys: () => trustedKeys(slice.publicKey),
        key: board.key, // read once, by the gallery service
        model: () => board.model(),
        merge: (other, model) => board.merge(other, model),
      });
      return pushes;
    };
    return {
      commands: {
        'faces/add': {
          maxBodyBytes: FACES_ADD_REQUEST_BYTES,
          run: (params) => {
            const request = parseFacesAddRequest(params, gallery().bounds);
            return gallery().enrol(request.name, request.photos);
          },
          describe: (_params, result) => {
            const r = result as EnrolmentOutcome;
            return { target: r.name, detail: { photos: r.photos.length, used: r.used, version: r.version } };
          },
        },
        'faces/remove': {
          run: (params) => gallery().remove(parseFacesRemoveRequest(params).name),
          describe: (_params, result) => {
            const r = result as { removed: string; version: number };
            return { target: r.removed, detail: { version: r.version } };
          },
        },
        'faces/list': { run: () => gallery().list(), readOnly: true },
        // A signed gallery package (`faceedge faces package`), merged into the board's gallery.
        'faces/merge': {
          maxBodyBytes: FACES_MERGE_REQUEST_BYTES,
          run: (params) => pushReceiver().receive(params),
          describe: (_params, result) => {
            const { source, ...detail } = result as GalleryPushOutcome;
            return { target: `gallery ${source}`, detail };
          },
        },
      },
    };
  },
});
