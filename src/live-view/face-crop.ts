/**
 * The small face picture shown beside an event in the live view (only with `http.snapshots: true`):
 * the track's box plus a margin, cut from the pixels of the frame that produced the event, as a JPEG data URL.
 */
import sharp from 'sharp';
import type { RgbImage } from '../capture/frame.js';
import type { Box } from '../pipeline/track-event.js';

/** Side of the crop in pixels. */
export const FACE_CROP_SIZE = 96;

/** A `data:image/jpeg;base64,…` URL of the face in `box` (box + 25 % each side, clipped to the frame). */
export async function faceCropDataUrl(image: RgbImage, box: Box): Promise<string> {
  const margin = 0.25 * Math.max(box.width, box.height);
  const left = Math.max(0, Math.floor(box.x - margin));
  const top = Math.max(0, Math.floor(box.y - margin));
  const width = Math.max(1, Math.min(image.width - left, Math.ceil(box.width + 2 * margin)));
  const height = Math.max(1, Math.min(image.height - top, Math.ceil(box.height + 2 * margin)));
  const jpeg = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left, top, width, height })
    .resize(FACE_CROP_SIZE, FACE_CROP_SIZE, { fit: 'cover' })
    .jpeg({ quality: 80 })
    .toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}
