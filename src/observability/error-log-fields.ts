/**
 * How an error is put into a log line. An expected refusal (a FaceedgeError: a bad pushed package, a
 * camera that is not there) is logged as its code, message and hint: the operator needs those, and a
 * stack trace would make a handled refusal look like a crash. Anything else is a bug and keeps its stack
 * (pino's error serializer).
 */
import { isFaceedgeError } from '../errors.js';

/** `{ code, err: message, hint? }` for a FaceedgeError; `{ err }` (with its stack) for anything else. */
export function errorLogFields(err: unknown): Record<string, unknown> {
  if (isFaceedgeError(err)) return { code: err.code, err: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  return { err };
}
