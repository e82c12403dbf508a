/**
 * Enrolment on the board over MQTT (issue 23 §2): the gallery's bridge commands `faces/add` (a name and 1–8
 * base64 photos), `faces/remove` and `faces/list`, answered on `bridge/response/faces/<cmd>` with each
 * photo's quality and the outcome. Who may send them is the broker's business: under the fleet ACL only an
 * operator account may publish `bridge/request/faces/…` (src/fleet/broker-acl.ts). Each request is audited by
 * the bridge dispatcher (the name and the counts: never photos or embeddings); each change goes through the
 * board's gallery service, which tells it on the bus as `galleryChanged`.
 */
import type { EnrolmentOutcome } from '../../recognition/board-gallery.js';
import { parseFacesAddRequest, parseFacesRemoveRequest } from '../../recognition/enrolment-request.js';
import { FaceedgeError } from '../../errors.js';
import { definePart } from '../daemon-part.js';

export const enrolmentPart = definePart({
  name: 'enrolment',
  slice: (config) => (config.recognition.enabled ? {} : null),
  create: (_slice, { services }) => {
    const gallery = () => {
      if (!services.gallery) throw new FaceedgeError('REQUEST_INVALID', 'recognition is off on this board');
      return services.gallery;
    };
    return {
      commands: {
        'faces/add': {
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
      },
    };
  },
});
