/**
 * The `motion_gate:` config section (src/pipeline/motion-gate.ts): skip the face detector on still
 * frames while no face is tracked. Its defaults are the gate's own (DEFAULT_MOTION_GATE).
 */
import { z } from 'zod';
import { DEFAULT_MOTION_GATE, type MotionGateOptions } from '../pipeline/motion-gate.js';
import { bool, num } from '../schema/schema-helpers.js';

/** Source types that are live cameras; the others are files (played for tests, evaluation, demos). */
export const LIVE_SOURCE_TYPES: readonly string[] = ['rpicam', 'v4l2', 'rtsp', 'mjpeg_process'];

export const motionGateSchema = z.strictObject({
  /**
   * `auto` (default): on for live cameras (`rpicam`, `v4l2`, `rtsp`, `mjpeg_process`), off for file
   * sources (`image`, `folder`, `gif`, `video`); `true` / `false`: on / off for every camera.
   */
  enabled: z.union([z.literal('auto'), bool()]).default('auto'),
  /** Grey-level difference (0–255) from the running background that counts a thumbnail pixel as changed. Default 12. */
  threshold: num(z.number().min(0).max(255)).default(DEFAULT_MOTION_GATE.threshold),
  /** Share of the frame (0–1) that must change to count as motion. Default 0.01 (1 %). */
  min_area: num(z.number().min(0).max(1)).default(DEFAULT_MOTION_GATE.minArea),
  /**
   * While still and no face is tracked, the detector still runs once per this many ms (≈ 3/s) — skipped
   * while the picture is unchanged since its last run, re-checked every 5 s regardless. Default 333.
   */
  keepalive_ms: num(z.number().int().min(0).max(600_000)).default(DEFAULT_MOTION_GATE.keepaliveMs),
  /** Share by which the background moves towards each looked-at frame (0–1]. Default 0.05. */
  background_rate: num(z.number().gt(0).max(1)).default(DEFAULT_MOTION_GATE.backgroundRate),
  /**
   * While still and no face is tracked, one frame per this many ms is decoded at all; 0 = every frame. Default 333
   * (3/s).
   */
  check_interval_ms: num(z.number().int().min(0).max(60_000)).default(DEFAULT_MOTION_GATE.checkIntervalMs),
  /** After motion, every frame is decoded and looked at for this long, ms. Default 1000. */
  hold_ms: num(z.number().int().min(0).max(600_000)).default(DEFAULT_MOTION_GATE.holdMs),
  /**
   * While every tracked face is confirmed, one frame per this many ms is analysed; 0 = every frame. Default 200 (5/s).
   */
  tracked_interval_ms: num(z.number().int().min(0).max(10_000)).default(DEFAULT_MOTION_GATE.trackedIntervalMs),
});

export type MotionGateConfig = z.output<typeof motionGateSchema>;

/** The gate options of a camera with this source type, or undefined when gating is off for it. */
export function motionGateFor(config: MotionGateConfig, sourceType: string): MotionGateOptions | undefined {
  const on = config.enabled === 'auto' ? LIVE_SOURCE_TYPES.includes(sourceType) : config.enabled;
  if (!on) return undefined;
  return {
    threshold: config.threshold,
    minArea: config.min_area,
    keepaliveMs: config.keepalive_ms,
    backgroundRate: config.background_rate,
    checkIntervalMs: config.check_interval_ms,
    holdMs: config.hold_ms,
    trackedIntervalMs: config.tracked_interval_ms,
  };
}
