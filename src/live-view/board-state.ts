/**
 * What the live view's board panel shows (`board` events and `GET /live/state`). The daemon supplies
 * the board-wide facts; the live view adds the cameras, the rules' last actions and the time.
 */

/** Board-wide facts, gathered by the daemon on every tick (about once a second while a page is open). */
export interface BoardFacts {
  readonly version: string;
  readonly device: string;
  /** The classifier serving now; `threshold` is the manifest's when it has one. */
  readonly model: {
    readonly id: string;
    readonly sha256: string;
    readonly threshold: number | null;
    readonly labels: readonly string[];
  } | null;
  readonly delegate: { readonly active: string; readonly fallback_reason: string | null };
  readonly detector: { readonly model: string; readonly delegate: string };
  /** `outbox_depth`: events stored and not yet acknowledged by the broker. */
  readonly mqtt: { readonly connected: boolean; readonly outbox_depth: number; readonly broker: string };
  /** Every configured GPIO line; `on` is null for an input not read yet. */
  readonly gpio: { readonly outputs: readonly GpioLineState[]; readonly inputs: readonly GpioLineState[] };
  /** °C, null where the board has no readable thermal zone. */
  readonly cpu_temperature_c: number | null;
}

export interface GpioLineState {
  readonly name: string;
  readonly on: boolean | null;
}

/** One camera as the page shows it. */
export interface CameraState {
  readonly name: string;
  /** Frames processed per second since the previous tick. */
  readonly fps: number;
  /** Last capture status reported by the source (`online`/`offline`, with its reason). */
  readonly capture: { readonly state: string; readonly reason: string | null };
  /** Frames dropped by the latest-frame slot since start (the pipeline was busy). */
  readonly dropped: number;
  readonly frames: number;
  /** True while a rule holds the camera paused. */
  readonly paused: boolean;
}

/** The full `board` event. */
export interface BoardState extends BoardFacts {
  readonly cameras: readonly CameraState[];
  /** The rules' last actions, newest first, as published on `rules/action`. */
  readonly rule_actions: readonly Record<string, unknown>[];
  /** Whether events carry face crops (`http.snapshots`). */
  readonly snapshots: boolean;
  /** Wall-clock time of this state, ms since the epoch. */
  readonly time: number;
}
