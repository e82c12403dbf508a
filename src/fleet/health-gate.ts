/**
 * A rollout wave's health gate: after the soak, a board passes when it is online, serves the new model
 * (bridge/info and its own health_check agree on the sha256 of the model the rollout addresses: the named one
 * with `fleet push --name`, else the first), health_check is ready with no reasons,
 * every camera's capture is online, and frames and events still flow at ≥ a fraction of the board's own
 * rate measured just before its push. Rates come from the boards' own retained stats (fps, events_total),
 * so the gate costs the broker nothing extra; each board is compared with itself, over windows a few
 * seconds apart, so a machine (or a site) that is busy for everyone does not fail a healthy board.
 */
import type { BridgeResponse } from '../mqtt/bridge-dispatcher.js';
import type { FleetConnection } from './fleet-connection.js';
import { modelOf, type BoardRow, type FleetView } from './fleet-view.js';

/** What a RateMeter reads: a FleetConnection's change events and its view's last stats per board. */
export interface StatsSource {
  onChange: FleetConnection['onChange'];
  readonly view: Pick<FleetView, 'stats'>;
}

export interface GateThresholds {
  /** Frames/s after the switch over frames/s just before the push (summed over cameras) must reach this. Default 0.5. */
  readonly minFrameRatio: number;
  /** Events/s after the switch over events/s before must reach this; 0 turns the check off. Default 0.5. */
  readonly minEventRatio: number;
  /** Fewer events than this before the push: too few to judge an event rate, not gated. Default 5. */
  readonly minBaselineEvents: number;
}

export const DEFAULT_GATE: GateThresholds = { minFrameRatio: 0.5, minEventRatio: 0.5, minBaselineEvents: 5 };

/** What one board's stats said over a window. */
export interface RateSample {
  /** Mean of the reported fps (summed over cameras); null without a stats report in the window. */
  readonly fps: number | null;
  /** Stats reports the fps is the mean of. */
  readonly reports: number;
  /** Events in the window (difference of events_total between its first and last stats). */
  readonly events: number;
  /** Events per second; null with fewer than two stats reports. */
  readonly eventsPerS: number | null;
  /** True when events_total went down: the daemon restarted in the window. */
  readonly restarted: boolean;
}

/** The figures a gate judged, kept in the rollout state and shown when a gate fails. */
export interface GateFigures {
  readonly before: RateSample;
  readonly after: RateSample;
}

interface Report {
  /** Workstation clock when it arrived, ms (windows are cut on this clock: boards' clocks may be off). */
  readonly at: number;
  /** The board's own clock, seconds (rates are computed on it). */
  readonly time: number;
  readonly fps: number;
  readonly events: number;
}

/** Reports kept per board (oldest dropped): at 1 report/s, over half an hour. */
const MAX_REPORTS = 2048;

const sum = (r: Readonly<Record<string, number>> | undefined) =>
  Object.values(r ?? {}).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);

/** Records the stats reports of some boards from `start()` on; `window()` summarises a time range of them. */
export class RateMeter {
  readonly #reports = new Map<string, Report[]>();
  #off: (() => void) | null = null;

  readonly #fleet: StatsSource;
  readonly #now: () => number;

  constructor(fleet: StatsSource, devices: readonly string[], now: () => number = Date.now) {
    this.#fleet = fleet;
    this.#now = now;
    for (const d of devices) this.#reports.set(d, []);
  }

  start(): this {
    this.#off = this.#fleet.onChange((d) => {
      const list = this.#reports.get(d);
      const s = this.#fleet.view.stats(d);
      if (!list || !s || typeof s.time !== 'number') return;
      if (list.length > 0 && list.at(-1)!.time >= s.time) return; // not a new report
      list.push({ at: this.#now(), time: s.time, fps: sum(s.fps), events: sum(s.events_total) });
      if (list.length > MAX_REPORTS) list.splice(0, list.length - MAX_REPORTS);
    });
    return this;
  }

  stop(): void {
    this.#off?.();
    this.#off = null;
  }

  /**
   * The reports of `device` that arrived in (`fromMs`, `toMs`] (workstation clock). `afterSwitch`: the
   * first one is left out of the fps mean, because its interval began before `fromMs` (the switch).
   */
  window(device: string, fromMs: number, toMs = this.#now(), afterSwitch = false): RateSample {
    const list = (this.#reports.get(device) ?? []).filter((r) => r.at > fromMs && r.at <= toMs);
    return summarise(list, afterSwitch ? 1 : 0);
  }
}

function summarise(list: readonly Report[], skip: number): RateSample {
  const counted = list.slice(skip);
  const fps = counted.length === 0 ? null : counted.reduce((a, r) => a + r.fps, 0) / counted.length;
  if (list.length === 0) return { fps, reports: 0, events: 0, eventsPerS: null, restarted: false };
  const [first, last] = [list[0], list.at(-1)!];
  const restarted = list.some((r, i) => i > 0 && r.events < list[i - 1].events);
  const events = Math.max(0, last.events - first.events);
  const seconds = last.time - first.time;
  return {
    fps,
    reports: counted.length,
    events,
    eventsPerS: list.length >= 2 && seconds > 0 ? events / seconds : null,
    restarted,
  };
}

/** What a board's health_check answer says of its models: the first as `model`, all by name as `models`. */
interface HealthModels {
  readonly model?: { readonly sha256?: string } | null;
  readonly models?: readonly { readonly name?: string; readonly sha256?: string }[];
}

/**
 * The sha256 of the model `name` addresses (the first without a name) in a health_check answer's data; undefined
 * when the board reports no such model (a board from before model names reports no `models`).
 */
export function healthServes(data: unknown, name?: string): string | undefined {
  const h = (data ?? {}) as HealthModels;
  if (name === undefined) return h.model?.sha256;
  return Array.isArray(h.models) ? h.models.find((m) => m.name === name)?.sha256 : undefined;
}

export interface GateInput {
  readonly targetSha256: string;
  /** The model the rollout addresses (`classifiers[].name`); absent: the board's first model. */
  readonly modelName?: string;
  /** The board's row after the soak. */
  readonly row: BoardRow | null;
  /** Its answer to health_check, or the error of asking. */
  readonly health: BridgeResponse | Error;
  /** Its own rates just before its push, and from its switch to the gate. */
  readonly figures: GateFigures;
  readonly thresholds?: GateThresholds;
}

const fmt = (x: number, digits: number) => x.toFixed(digits);

/** Why the board fails the gate; empty when it passes. Rate reasons carry the measured figures. */
export function gateReasons(g: GateInput): string[] {
  const t = g.thresholds ?? DEFAULT_GATE;
  const { before, after } = g.figures;
  const reasons: string[] = [];
  const short = (sha: string | undefined) => (sha ? `${sha.slice(0, 12)}…` : 'none');
  if (g.row?.online !== true) reasons.push('offline');
  const which = g.modelName === undefined ? 'model' : `model "${g.modelName}"`;
  const named = modelOf(g.row, g.modelName)?.sha256;
  if (named !== g.targetSha256)
    reasons.push(`bridge/info names ${which} ${short(named)}, not ${short(g.targetSha256)}`);
  if (g.health instanceof Error) reasons.push(`health_check: ${g.health.message}`);
  else if (g.health.status !== 'ok') reasons.push(`health_check error: ${g.health.error ?? 'unknown'}`);
  else {
    const h = g.health.data as { ready?: boolean; reasons?: string[] };
    if (h.ready !== true) reasons.push(`not ready: ${(h.reasons ?? []).join('; ') || 'no reason given'}`);
    const serves = healthServes(g.health.data, g.modelName);
    if (serves !== g.targetSha256) reasons.push(`health_check serves ${which} ${short(serves)}`);
  }
  for (const c of g.row?.cameras ?? []) if (c.capture === 'offline') reasons.push(`camera ${c.name}: capture offline`);
  if (after.restarted) reasons.push('the daemon restarted during the soak');
  if (before.fps !== null && before.fps > 0) {
    if (after.fps === null) reasons.push('no stats after the switch');
    else if (after.fps < t.minFrameRatio * before.fps)
      reasons.push(
        `frames ${fmt(after.fps, 2)}/s after the switch (mean of ${after.reports} reports) < ${t.minFrameRatio} × ` +
          `${fmt(before.fps, 2)}/s just before the push (${before.reports} reports)`,
      );
  }
  if (
    t.minEventRatio > 0 &&
    before.events >= t.minBaselineEvents &&
    before.eventsPerS !== null &&
    before.eventsPerS > 0
  ) {
    const rate = after.eventsPerS ?? 0;
    if (rate < t.minEventRatio * before.eventsPerS)
      reasons.push(
        `events ${fmt(rate, 2)}/s after the switch (${after.events} events) < ${t.minEventRatio} × ` +
          `${fmt(before.eventsPerS, 2)}/s just before the push (${before.events} events)`,
      );
  }
  return reasons;
}
