/**
 * The thresholds an operator may change at run time through `bridge/request/options`, validated with
 * the same rules as the config file. Only numeric thresholds are allowed: changing a model, a camera
 * or the broker needs a restart (or `model/reload`).
 */
import { z } from 'zod';
import { definedValues } from '../schema/defined-values.js';
import { FaceedgeError } from '../errors.js';
import { configIssuesFromZod, formatConfigIssue } from './config-issues.js';
import { detectorSchema, trackerSchema, type DetectorConfig, type TrackerConfig } from './config-schema.js';

/**
 * The same key rules without their defaults. `.partial()` is not enough: zod 4 still fills a default
 * inside an optional, so `{tracker: {min_frames: 2}}` would reset every other tracker threshold.
 */
function patchOf<S extends z.ZodRawShape>(shape: S) {
  const fields = Object.fromEntries(
    Object.entries(shape).map(([key, schema]) => [
      key,
      z.optional(schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType) : schema),
    ]),
  );
  return z.strictObject(fields as { [K in keyof S]: z.ZodOptional<S[K] extends z.ZodDefault<infer T> ? T : S[K]> });
}

const runtimeOptionsSchema = z.strictObject({
  detector: patchOf(detectorSchema.pick({ score_threshold: true, nms_iou: true, min_face_px: true }).shape).optional(),
  tracker: patchOf(trackerSchema.shape).optional(),
});

/** A validated partial update; absent keys keep their value. */
export type RuntimeOptionsPatch = z.output<typeof runtimeOptionsSchema>;

/** The run-time adjustable part of the configuration. */
export interface RuntimeOptions {
  readonly detector: DetectorConfig;
  readonly tracker: TrackerConfig;
}

/**
 * Validates the body of an `options` request (`{detector?: {...}, tracker?: {...}}`).
 * Throws FaceedgeError `REQUEST_INVALID` naming every bad key.
 */
export function parseRuntimeOptionsPatch(params: unknown): RuntimeOptionsPatch {
  const result = runtimeOptionsSchema.safeParse(params ?? {});
  if (!result.success) {
    const lines = configIssuesFromZod(result.error.issues).map(formatConfigIssue);
    throw new FaceedgeError('REQUEST_INVALID', `invalid options: ${lines.join('; ')}`, {
      hint: 'send {"detector": {"score_threshold": 0.6}, "tracker": {"min_frames": 3}}',
    });
  }
  return result.data;
}

/** Returns a new frozen RuntimeOptions with `patch` applied over `current`. */
export function applyRuntimeOptionsPatch(current: RuntimeOptions, patch: RuntimeOptionsPatch): RuntimeOptions {
  return Object.freeze({
    detector: Object.freeze({ ...current.detector, ...definedValues(patch.detector ?? {}) }),
    tracker: Object.freeze({ ...current.tracker, ...definedValues(patch.tracker ?? {}) }),
  });
}
