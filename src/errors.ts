/**
 * Typed errors: every failure the user can act on carries a stable code and a hint.
 * Only the CLI entry point maps codes to exit status; nothing branches on message text.
 */
export type FaceedgeErrorCode =
  | 'CONFIG_INVALID'
  | 'IMAGE_UNREADABLE'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_TOO_SMALL'
  | 'MODEL_INVALID'
  | 'MODEL_SHAPE_MISMATCH'
  | 'MODEL_CHECKSUM_MISMATCH'
  | 'MODEL_NOT_FOUND'
  | 'RUNTIME_UNAVAILABLE'
  | 'DELEGATE_UNAVAILABLE'
  | 'INFERENCE_FAILED'
  | 'DATASET_INVALID'
  | 'CAMERA_NOT_FOUND'
  | 'SOURCE_FAILED'
  | 'MQTT_FAILED'
  | 'REQUEST_INVALID'
  | 'GPIO_UNAVAILABLE'
  | 'GPIO_FAILED'
  | 'NOTIFY_FAILED'
  | 'MODEL_SIGNATURE_INVALID'
  | 'MODEL_SELFTEST_FAILED'
  | 'MODEL_TRANSFER_FAILED'
  | 'MODEL_NO_PREVIOUS'
  /** A board with no trusted signing key accepts no model push over MQTT. */
  | 'MODEL_PUSH_DISABLED'
  /** Another model push is being received (one at a time). */
  | 'MODEL_PUSH_BUSY'
  /** The push would exceed the transfer store's byte budget or the free space of the state directory. */
  | 'MODEL_PUSH_NO_SPACE'
  | 'ROLLOUT_STOPPED'
  | 'TRAINING_FAILED'
  | 'GALLERY_INVALID'
  | 'GALLERY_KEY_INVALID'
  | 'GALLERY_AUTH_FAILED'
  | 'GALLERY_LIMIT'
  | 'GALLERY_NAME_INVALID'
  | 'GALLERY_PERSON_UNKNOWN'
  | 'ENROLMENT_FAILED'
  /** One enrolment runs and one waits on the board; a third at once is refused (retry later). */
  | 'ENROLMENT_BUSY'
  | 'USAGE';

export class FaceedgeError extends Error {
  readonly code: FaceedgeErrorCode;
  readonly hint?: string;

  constructor(code: FaceedgeErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'FaceedgeError';
    this.code = code;
    this.hint = options.hint;
  }
}

/** True when `err` is a FaceedgeError, optionally with the given code. */
export function isFaceedgeError(err: unknown, code?: FaceedgeErrorCode): err is FaceedgeError {
  return err instanceof FaceedgeError && (code === undefined || err.code === code);
}

/**
 * Refuses a request payload larger than `maxBytes` before it is parsed: a JSON.parse of megabytes blocks the
 * event loop and holds several copies of the text, and with an external broker nothing smaller than the
 * broker's own packet limit stops it on the way. Throws REQUEST_INVALID naming the size and the bound.
 * @param what the request as the error names it (`bridge request options`, `GPIO command`).
 */
export function checkRequestSize(what: string, bytes: number, maxBytes: number): void {
  if (bytes <= maxBytes) return;
  throw new FaceedgeError('REQUEST_INVALID', `${what} of ${bytes} bytes is over its bound of ${maxBytes} bytes`, {
    hint: 'refused before it was read; send a smaller request',
  });
}
