/**
 * The largest MQTT packet the board's embedded broker takes: the largest request the board is meant to
 * receive, derived from the bounds that define those requests (one definition each), so that a message
 * too large for any of them is refused while it arrives, before it is held in memory whole.
 *
 * - `faces/add`: {@link ENROLMENT_BOUNDS} photos of at most `maxPhotoBytes` each, as base64 (4 characters
 *   per 3 bytes) in a JSON list — today 8 × 4 MiB ≈ 44.7 MB of text, the largest;
 * - `faces/merge`: a gallery package of at most {@link DEFAULT_GALLERY_LIMITS}`.maxFileBytes`, base64;
 * - a model push chunk of at most {@link MAX_CHUNK_SIZE} bytes, base64.
 *
 * Plus {@link REQUEST_ENVELOPE_BYTES} for the topic, the JSON around the data (name, manifest, signature,
 * transaction id) and the MQTT headers.
 */
import { MAX_CHUNK_SIZE } from '../model-push/mqtt-push-protocol.js';
import { ENROLMENT_BOUNDS } from '../recognition/board-gallery.js';
import { DEFAULT_GALLERY_LIMITS } from '../recognition/gallery-person.js';

/** Room for everything of a request but its base64 data, bytes: 64 KiB. */
export const REQUEST_ENVELOPE_BYTES = 64 * 1024;

/** Characters of base64 for `bytes` bytes (padded). */
const base64Length = (bytes: number): number => Math.ceil(bytes / 3) * 4;

/** Largest packet a client may send to the embedded broker, bytes. */
export const MAX_MQTT_PACKET_BYTES =
  Math.max(
    // Each photo as a quoted JSON string, separated by commas.
    ENROLMENT_BOUNDS.maxPhotos * (base64Length(ENROLMENT_BOUNDS.maxPhotoBytes) + 3),
    base64Length(DEFAULT_GALLERY_LIMITS.maxFileBytes),
    base64Length(MAX_CHUNK_SIZE),
  ) + REQUEST_ENVELOPE_BYTES;
