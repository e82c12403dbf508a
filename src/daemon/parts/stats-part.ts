/**
 * Publishes `faceedge/<dev>/stats` periodically: frames per second per camera and the mean time of
 * each pipeline stage over the period, from the cameras' own counters.
 */
import type { StatsInput } from '../../mqtt/mqtt-payloads.js';
import type { CameraRunner } from '../camera-runner.js';

export interface StatsReporterOptions {
  readonly cameras: readonly CameraRunner[];
  readonly delegate: () => string;
  readonly publish: (stats: StatsInput) => void;
  /** Period, ms. */
  readonly intervalMs: number;
}

export class StatsReporter {
  #timer: NodeJS.Timeout | null = null;
  #lastAt = performance.now();
  #lastFrames = new Map<string, number>();

  constructor(private readonly o: StatsReporterOptions) {}

  start(): void {
    this.#lastAt = performance.now();
    for (const c of this.o.cameras) this.#lastFrames.set(c.name, c.frames);
    this.#timer = setInterval(() => this.o.publish(this.collect()), this.o.intervalMs);
    this.#timer.unref();
  }

  /** Stats since the previous call (or start). */
  collect(): StatsInput {
    const now = performance.now();
    const seconds = Math.max(1e-3, (now - this.#lastAt) / 1000);
    this.#lastAt = now;
    const fps: Record<string, number> = {};
    const totals: Record<string, { ms: number; n: number }> = {};
    for (const c of this.o.cameras) {
      fps[c.name] = Math.round(((c.frames - (this.#lastFrames.get(c.name) ?? 0)) / seconds) * 10) / 10;
      this.#lastFrames.set(c.name, c.frames);
      for (const [stage, t] of Object.entries(c.takeStageTotals())) {
        const acc = (totals[stage] ??= { ms: 0, n: 0 });
        acc.ms += t.ms;
        acc.n += t.n;
      }
    }
    const stages_ms = Object.fromEntries(
      Object.entries(totals).map(([stage, t]) => [stage, Math.round((t.ms / t.n) * 100) / 100]),
    );
    return { fps, stages_ms, delegate: this.o.delegate() };
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
