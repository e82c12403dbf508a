/**
 * The parameters of the gallery's bridge requests (`faces/add`, `faces/remove`), checked before anything is
 * decoded: `faces/add` is `{ "name": "Alice", "photos": ["<base64 JPEG or PNG>", …] }`. A photo's base64 is
 * measured before it is decoded, so an oversized request costs no more than the message itself.
 */
import { FaceedgeError } from '../errors.js';
import { ENROLMENT_BOUNDS, type EnrolmentBounds, type EnrolmentPhoto } from './board-gallery.js';

/** Standard base64 (RFC 4648 §4), padding optional; whitespace is not allowed. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

export interface FacesAddRequest {
  readonly name: string;
  readonly photos: readonly EnrolmentPhoto[];
}

function requestObject(params: unknown, command: string): Record<string, unknown> {
  if (typeof params !== 'object' || params === null || Array.isArray(params))
    throw new FaceedgeError('REQUEST_INVALID', `${command} takes a JSON object`);
  return params as Record<string, unknown>;
}

function nameOf(request: Record<string, unknown>, command: string): string {
  const { name } = request;
  if (typeof name !== 'string') throw new FaceedgeError('REQUEST_INVALID', `${command} needs "name", a string`);
  return name;
}

/** `faces/add`'s parameters; throws REQUEST_INVALID naming what is wrong (never echoing photo data). */
export function parseFacesAddRequest(params: unknown, bounds: EnrolmentBounds = ENROLMENT_BOUNDS): FacesAddRequest {
  const request = requestObject(params, 'faces/add');
  const name = nameOf(request, 'faces/add');
  const { photos } = request;
  if (!Array.isArray(photos) || photos.length === 0) {
    throw new FaceedgeError('REQUEST_INVALID', 'faces/add needs "photos", a list of base64 JPEG or PNG photos', {
      hint: 'e.g. {"name": "Alice", "photos": ["/9j/4AAQ…"]}',
    });
  }
  if (photos.length > bounds.maxPhotos)
    throw new FaceedgeError(
      'REQUEST_INVALID',
      `${photos.length} photos; an enrolment takes at most ${bounds.maxPhotos}`,
    );
  const maxBase64 = Math.ceil(bounds.maxPhotoBytes / 3) * 4;
  const decoded = photos.map((photo: unknown, i): EnrolmentPhoto => {
    const origin = `photo ${i + 1}`;
    if (typeof photo !== 'string') throw new FaceedgeError('REQUEST_INVALID', `${origin} is not a base64 string`);
    if (photo.length > maxBase64) {
      throw new FaceedgeError(
        'REQUEST_INVALID',
        `${origin} is over ${bounds.maxPhotoBytes} bytes; a photo may be at most that`,
        { hint: 'scale the photo down: a face needs a few hundred pixels, not a full-size picture' },
      );
    }
    if (!BASE64.test(photo)) throw new FaceedgeError('REQUEST_INVALID', `${origin} is not valid base64`);
    // Decoded in the enrolment's turn (BoardGallery), not here: a waiting request holds only its message.
    return { origin, base64: photo };
  });
  return { name, photos: decoded };
}

/** `faces/remove`'s parameters: `{ "name": "Alice" }`. */
export function parseFacesRemoveRequest(params: unknown): { readonly name: string } {
  return { name: nameOf(requestObject(params, 'faces/remove'), 'faces/remove') };
}
