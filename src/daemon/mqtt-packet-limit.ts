/**
 * The bounds on the requests the board takes over MQTT that this composition root knows how to size, and the
 * largest MQTT packet the board's embedded broker takes: the largest request of any kind, derived from the
 * bounds that define those requests (one definition each), so that a message too large for any of them is
 * refused while it arrives, before it is held in memory whole. Each request is checked against its own
 * bound before it is parsed, whatever the broker (with an external one, only that check holds):
 * bridge commands (src/mqtt/bridge-dispatcher.ts, `maxBodyBytes`), a push's `begin`, a GPIO command.
 *
 * - `faces/add`: {@link ENROLMENT_BOUNDS} photos of at most `maxPhotoBytes` each, as base64 (4 characters
 *   per 3 bytes) in a JSON list — today 8 × 4 MiB ≈ 44.7 MB of text, the largest;
 * - `faces/merge`: a gallery package of at most {@link DEFAULT_GALLERY_LIMITS}`.maxFileBytes`, base64;
 * - a model push chunk of at most {@link MAX_CHUNK_SIZE} bytes, base64.
 *
 * Each plus {@link REQUEST_ENVELOPE_BYTES} for the JSON around the data (name, manifest, signature,
 * transaction id); the packet bound adds the MQTT header and topic.
 */
import { MAX_GPIO_COMMAND_BYTES } from '../gpio/gpio-mqtt.js';
import { DEFAULT_BRIDGE_REQUEST_BYTES } from '../mqtt/bridge-dispatcher.js';
import { MAX_CHUNK_SIZE, MAX_PUSH_BEGIN_BYTES } from '../model-push/mqtt-push-protocol.js';
import { ENROLMENT_BOUNDS } from '../recognition/board-gallery.js';
import { DEFAULT_GALLERY_LIMITS } from '../recognition/gallery-person.js';

/** Room for everything of a request body but its base64 data (name, manifest, signature, transaction), bytes: 64 KiB. */
export const REQUEST_ENVELOPE_BYTES = 64 * 1024;
/** Room for an MQTT PUBLISH's fixed header and topic around a body, bytes. */
const PACKET_HEADER_BYTES = 4096;

/** Characters of base64 for `bytes` bytes (padded). */
const base64Length = (bytes: number): number => Math.ceil(bytes / 3) * 4;

/** Largest `bridge/request/faces/add` body, bytes: every photo as a quoted base64 JSON string, comma-separated. */
export const FACES_ADD_REQUEST_BYTES =
  ENROLMENT_BOUNDS.maxPhotos * (base64Length(ENROLMENT_BOUNDS.maxPhotoBytes) + 3) + REQUEST_ENVELOPE_BYTES;
/** Largest `bridge/request/faces/merge` body, bytes: one gallery package, base64. */
export const FACES_MERGE_REQUEST_BYTES = base64Length(DEFAULT_GALLERY_LIMITS.maxFileBytes) + REQUEST_ENVELOPE_BYTES;
/** Largest model push chunk message, bytes: one chunk, base64. */
const MODEL_PUSH_CHUNK_MESSAGE_BYTES = base64Length(MAX_CHUNK_SIZE);

/** Largest packet a client may send to the embedded broker, bytes: the largest request of any kind. */
export const MAX_MQTT_PACKET_BYTES =
  Math.max(
    FACES_ADD_REQUEST_BYTES,
    FACES_MERGE_REQUEST_BYTES,
    MODEL_PUSH_CHUNK_MESSAGE_BYTES,
    DEFAULT_BRIDGE_REQUEST_BYTES,
    MAX_PUSH_BEGIN_BYTES,
    MAX_GPIO_COMMAND_BYTES,
  ) + PACKET_HEADER_BYTES;
