/** Payload shapes of the retained info and stats topics (DESIGN.md, MQTT contract). */

/** `faceedge/<dev>/bridge/info`, retained; supplied by the composition root, republished on change. */
export interface BridgeInfo {
  /** faceedge package version. */
  readonly version: string;
  /**
   * The loaded classifier: manifest id, model file sha256, its labels, decision threshold on P(labels[1]) (two
   * labels; a model of three or more decides by its largest probability, with `temperature` and `unsure_floor`,
   * and reports the unused default 0.5), whether mirror-image averaging is on, and how it was installed; null
   * while none is loaded.
   */
  readonly model: {
    readonly id: string;
    readonly sha256: string;
    /** The manifest's labels, in output order: what `class` in events can say (besides `unknown`). */
    readonly labels: readonly string[];
    readonly threshold: number;
    /** Three or more labels: logits are divided by it before the softmax. */
    readonly temperature?: number;
    /** Three or more labels: below this largest probability a face is `unknown`. */
    readonly unsure_floor?: number;
    readonly flip_average: boolean;
    /** `model-store` (installed or pushed; `version` names the package) or `classifier.model`. */
    readonly installed?: 'model-store' | 'classifier.model';
    readonly version?: string | null;
  } | null;
  readonly delegate: {
    /** The delegate actually running (`xnnpack`, `cpu`, `external:libedgetpu.so.1`). */
    readonly active: string;
    /** Why the requested delegate is not the active one; null when it is. */
    readonly fallback_reason: string | null;
  };
  /** The configuration with secrets removed (`redactConfig`). */
  readonly config: unknown;
  /** `device.tags`, for grouping boards in a fleet. */
  readonly tags?: readonly string[];
  readonly [key: string]: unknown;
}

/** What the pipeline reports for `faceedge/<dev>/stats`. */
export interface StatsInput {
  /** Processed frames per second, per camera. */
  readonly fps: Readonly<Record<string, number>>;
  /** Mean milliseconds per stage over the reporting interval (`decode`, `detect`, `classify`…). */
  readonly stages_ms: Readonly<Record<string, number>>;
  /** Active classifier delegate. */
  readonly delegate: string;
  /** Per camera: frames whose recognition failed since the daemon started (0 without recognition). */
  readonly recognition_errors_total?: Readonly<Record<string, number>>;
  readonly [key: string]: unknown;
}

/** The published stats: the input plus what the output adds. */
export interface StatsPayload extends StatsInput {
  /** °C, null where the board exposes no thermal zone. */
  readonly cpu_temperature_c: number | null;
  /** Events waiting in the outbox. */
  readonly queue_depth: number;
  /** Events the broker refused for good (MQTT 5 PUBACK reason) and that were dropped since start, by reason (absent from boards older than this field). */
  readonly events_refused_total?: Readonly<Record<string, number>>;
  /** Per camera: events produced since the daemon started (a rate is the difference of two reports). */
  readonly events_total: Readonly<Record<string, number>>;
  /** Per camera: wall clock of the last event, seconds since the Unix epoch (cameras without one are absent). */
  readonly last_event_time: Readonly<Record<string, number>>;
  /** Wall clock of the current broker connection's start, seconds since the Unix epoch. */
  readonly online_since: number | null;
  /** Wall clock, seconds since the Unix epoch. */
  readonly time: number;
}
