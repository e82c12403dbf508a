/**
 * A rollout wave's health gate: after the soak, a board passes when it is online, serves the new model
 * (bridge/info and its own health_check agree on the sha256), health_check is ready with no reasons,
 * every camera's capture is online, and frames and events still flow at ≥ a fraction of the rate
 * measured before the rollout. Rates come from the boards' own retained stats (fps, events_total), so
 * the gate costs the broker nothing extra.
 */
import type { BridgeResponse } from '../mqtt/bridge-dispatcher.js';
import type { FleetConnection } from './fleet-connection.js';
import type { BoardRow } from './fleet-view.js';

export interface GateThresholds {
  /** Soak fps over pre-rollout fps (summed over cameras) must reach this. Default 0.5. */
  readonly minFrameRatio: number;
  /** Soak events/s over pre-rollout events/s must reach this; 0 turns the check off. Default 0.5. */
  readonly minEventRatio: number;
  /** Fewer pre-rollout events than this: too few to judge an event rate, not gated. Default 5. */
  readonly minBaselineEvents: number;
}

export const DEFAULT_GATE: GateThresholds = { minFrameRatio: 0.5, minEventRatio: 0.5, minBaselineEvents: 5 };

/** What one board's stats said over a window. */
export interface RateSample {
  /** Mean of the reported fps (summed over cameras); null without a stats message in the window. */
  readonly fps: number | null;
  /** Events in the window (difference of events_total between its first and last stats). */
  readonly events: number;
  /** Events per second; null with fewer than two stats messages. */
  readonly eventsPerS: number | null;
  /** True when events_total went down: the daemon restarted in the window. */
  readonly restarted: boolean;
}

interface Sample {
  time: number;
  fps: number;
  events: number;
}

const sum = (r: Readonly<Record<string, number>> | undefined) =>
  Object.values(r ?? {}).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);

/** Records the stats messages of some boards from `start()` on; `sample(d)` summarises them. */
export class RateMeter {
  readonly #samples = new Map<string, Sample[]>();
  #off: (() => void) | null = null;

  readonly #fleet: FleetConnection;

  constructor(fleet: FleetConnection, devices: readonly string[]) {
    this.#fleet = fleet;
    for (const d of devices) this.#samples.set(d, []);
  }

  start(): this {
    this.#off = this.#fleet.onChange((d) => {
      const list = this.#samples.get(d);
      const s = this.#fleet.view.stats(d);
      if (!list || !s || typeof s.time !== 'number') return;
      if (list.length > 0 && list.at(-1)!.time >= s.time) return; // not a new report
      list.push({ time: s.time, fps: sum(s.fps), events: sum(s.events_total) });
    });
    return this;
  }

  stop(): void {
    this.#off?.();
    this.#off = null;
  }

  sample(device: string): RateSample {
    const list = this.#samples.get(device) ?? [];
    if (list.length === 0) return { fps: null, events: 0, eventsPerS: null, restarted: false };
    const fps = list.reduce((a, s) => a + s.fps, 0) / list.length;
    const [first, last] = [list[0], list.at(-1)!];
    const restarted = list.some((s, i) => i > 0 && s.events < list[i - 1].events);
    const events = Math.max(0, last.events - first.events);
    const seconds = last.time - first.time;
    return { fps, events, eventsPerS: list.length >= 2 && seconds > 0 ? events / seconds : null, restarted };
  }
}

export interface GateInput {
  readonly targetSha256: string;
  /** The board's row after the soak. */
  readonly row: BoardRow | null;
  /** Its answer to health_check, or the error of asking. */
  readonly health: BridgeResponse | Error;
  readonly baseline: RateSample;
  readonly soak: RateSample;
  readonly thresholds?: GateThresholds;
}

/** Why the board fails the gate; empty when it passes. */
export function gateReasons(g: GateInput): string[] {
  const t = g.thresholds ?? DEFAULT_GATE;
  const reasons: string[] = [];
  const short = (sha: string | undefined) => (sha ? `${sha.slice(0, 12)}…` : 'none');
  if (g.row?.online !== true) reasons.push('offline');
  if (g.row?.model?.sha256 !== g.targetSha256)
    reasons.push(`bridge/info names model ${short(g.row?.model?.sha256)}, not ${short(g.targetSha256)}`);
  if (g.health instanceof Error) reasons.push(`health_check: ${g.health.message}`);
  else if (g.health.status !== 'ok') reasons.push(`health_check error: ${g.health.error ?? 'unknown'}`);
  else {
    const h = g.health.data as { ready?: boolean; reasons?: string[]; model?: { sha256?: string } | null };
    if (h.ready !== true) reasons.push(`not ready: ${(h.reasons ?? []).join('; ') || 'no reason given'}`);
    if (h.model?.sha256 !== g.targetSha256) reasons.push(`health_check serves ${short(h.model?.sha256)}`);
  }
  for (const c of g.row?.cameras ?? []) if (c.capture === 'offline') reasons.push(`camera ${c.name}: capture offline`);
  if (g.soak.restarted) reasons.push('the daemon restarted during the soak');
  if (g.baseline.fps !== null && g.baseline.fps > 0) {
    if (g.soak.fps === null) reasons.push('no stats during the soak');
    else if (g.soak.fps < t.minFrameRatio * g.baseline.fps)
      reasons.push(`frames ${g.soak.fps.toFixed(1)}/s < ${t.minFrameRatio} × ${g.baseline.fps.toFixed(1)}/s before`);
  }
  if (
    t.minEventRatio > 0 &&
    g.baseline.events >= t.minBaselineEvents &&
    g.baseline.eventsPerS !== null &&
    g.baseline.eventsPerS > 0
  ) {
    const rate = g.soak.eventsPerS ?? 0;
    if (rate < t.minEventRatio * g.baseline.eventsPerS)
      reasons.push(`events ${rate.toFixed(2)}/s < ${t.minEventRatio} × ${g.baseline.eventsPerS.toFixed(2)}/s before`);
  }
  return reasons;
}
