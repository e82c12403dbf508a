/** Event payloads of the MQTT contract (`faceedge/<dev>/<cam>/events`); see DESIGN.md. */

/** Box in source-image pixels: top-left corner and size. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** The state of one tracked face at a moment. */
export interface TrackSnapshot {
  /** Stable id for the life of the track, `<camera>-<n>`, unique across daemon runs on one state_dir (e.g. `door-17`). */
  readonly id: string;
  readonly camera: string;
  readonly box: Box;
  /** Box area in source pixels². */
  readonly face_area: number;
  /** The decided class label (`female` / `male`), after smoothing and hysteresis. */
  readonly class: string;
  /**
   * The classifier's probability of `class` over the track so far, in [0, 1], 3 decimals: the sigmoid of
   * the frames' logits averaged with weights √(box area). Hysteresis may keep `class` while this is a
   * little under 0.5.
   */
  readonly score: number;
  /** The highest single-frame probability of `class` the classifier gave on this track, 3 decimals. */
  readonly top_score: number;
  /** Frames in which this face was seen. */
  readonly frames: number;
  /** Wall-clock seconds since the Unix epoch. */
  readonly start_time: number;
  /** null while the track is alive. */
  readonly end_time: number | null;
  /** Model id (manifest id) that classified this track. */
  readonly model: string;
}

export interface TrackEvent {
  readonly type: 'new' | 'update' | 'end';
  /** Previous published snapshot (null for `new`). */
  readonly before: TrackSnapshot | null;
  readonly after: TrackSnapshot;
  /**
   * Only on an `end` the tracker did not see happen: `restart` = the track was open when the previous
   * run of the daemon died, and is ended by the next run (`after` is its last published snapshot, with
   * `end_time` when that was published). Absent on every other event.
   */
  readonly reason?: 'restart';
  /** Monotonic timestamp (ms) of the frame that produced this event, for latency measurement. */
  readonly frame_timestamp_ms?: number;
}
