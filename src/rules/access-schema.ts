/**
 * The `access:` section: how the board guards its person rules (its locks) against repeated attempts, and how
 * it keeps the access log. Only person rules (`when.person`, src/rules/rules-schema.ts) use it.
 *
 * ```yaml
 * access:
 *   lockout: { attempts: 5, window_s: 60, duration_s: 300 }   # 5 refused faces at a camera in 60 s: 5 min shut
 *   log: { max_bytes: 1048576, files: 5 }                     # <state_dir>/access.log, .1 … .4 before it
 * ```
 */
import { z } from 'zod';
import { num } from '../schema/schema-helpers.js';

/** Refused attempts (an unknown face, a failed liveness check) at one camera that start a lockout. */
export const DEFAULT_LOCKOUT_ATTEMPTS = 5;
/** Window in which those attempts are counted, s. */
export const DEFAULT_LOCKOUT_WINDOW_S = 60;
/** How long a camera's person rules stay shut once locked out, s. */
export const DEFAULT_LOCKOUT_DURATION_S = 300;
/** Largest access log file before it is rotated, bytes: 1 MiB. */
export const DEFAULT_ACCESS_LOG_MAX_BYTES = 1024 * 1024;
/** Files kept, the current one included: 5. */
export const DEFAULT_ACCESS_LOG_FILES = 5;
/** The access log's file name under `state_dir`. */
export const ACCESS_LOG_FILE_NAME = 'access.log';

export const lockoutSchema = z.strictObject({
  /** Refused attempts at one camera within `window_s` that lock it out, 1..1000. Default 5. */
  attempts: num(z.number().int().min(1).max(1000)).default(DEFAULT_LOCKOUT_ATTEMPTS),
  /** The counting window, s, 1..86400. Default 60. */
  window_s: num(z.number().min(1).max(86_400)).default(DEFAULT_LOCKOUT_WINDOW_S),
  /** How long no person rule of that camera fires, s, 1..86400. Default 300. */
  duration_s: num(z.number().min(1).max(86_400)).default(DEFAULT_LOCKOUT_DURATION_S),
});

export const accessLogSchema = z.strictObject({
  /** Rotate the access log once it would pass this size, bytes, 4 KiB..1 GiB. Default 1 MiB. */
  max_bytes: num(
    z
      .number()
      .int()
      .min(4096)
      .max(1024 ** 3),
  ).default(DEFAULT_ACCESS_LOG_MAX_BYTES),
  /** Files kept, the current one included, 1..100. Default 5. */
  files: num(z.number().int().min(1).max(100)).default(DEFAULT_ACCESS_LOG_FILES),
});

export const accessSchema = z.strictObject({
  lockout: lockoutSchema.prefault({}),
  log: accessLogSchema.prefault({}),
});

export type AccessConfig = z.output<typeof accessSchema>;
export type LockoutConfig = AccessConfig['lockout'];
export type AccessLogConfig = AccessConfig['log'];
