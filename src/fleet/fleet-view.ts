/**
 * The fleet as its retained topics describe it: every board's availability, bridge/info, per-camera
 * capture status and last stats, folded into one row per board. Pure (no connection): the caller
 * feeds it messages (`FleetConnection`, tests) and reads `boards()`.
 *
 *   const view = new FleetView(new FleetTopics('faceedge'));
 *   view.ingest(topic, payload);  …  view.boards();
 */
import type { BridgeInfo, StatsPayload } from '../mqtt/mqtt-payloads.js';
import type { FleetTopics } from '../mqtt/mqtt-topics.js';

/** One camera of a board, from `<cam>/status/capture` and the board's stats. */
export interface CameraRow {
  readonly name: string;
  /** `online`/`offline` from the retained capture status; null before one was seen. */
  readonly capture: 'online' | 'offline' | null;
  /** Frames per second over the last stats period; null without stats. */
  readonly fps: number | null;
  /** Events since the daemon started; null without stats. */
  readonly events_total: number | null;
  /** ISO time of the camera's last event; null when none (or no stats). */
  readonly last_event: string | null;
  /**
   * True while the board is not online (offline, or its availability unknown): `capture`, `fps` and
   * `last_event` are then what it last reported, not what its camera does now.
   */
  readonly stale: boolean;
}

/** A model a board serves, from its bridge/info. */
export interface ServedModel {
  readonly id: string;
  readonly sha256: string;
  readonly installed: string | null;
  readonly version: string | null;
}

/** One of a board's models per face (`classifiers[].name`). */
export interface NamedModel extends ServedModel {
  readonly name: string;
}

/**
 * The model of `row` that `name` addresses, as model push and rollback address it: the named one, or the first
 * (`model`) without a name. Null when the board reports no such model.
 */
export function modelOf(row: BoardRow | null | undefined, name?: string): ServedModel | null {
  if (!row) return null;
  return name === undefined ? row.model : (row.models.find((m) => m.name === name) ?? null);
}

/** One row of `faceedge fleet status` (and the `--json` shape). */
export interface BoardRow {
  readonly device: string;
  /** From the retained availability (`offline` is also the broker's last will); null when never seen. */
  readonly online: boolean | null;
  /**
   * ISO time since when: while online, the start of its broker connection (its stats), or when this
   * view saw it come online; while offline, when this view saw it go, else its last stats (last seen).
   */
  readonly since: string | null;
  /** ISO time of its last stats message. */
  readonly last_seen: string | null;
  readonly version: string | null;
  readonly model: ServedModel | null;
  /**
   * Every model per face by name (`classifiers:`), the first one first, from bridge/info `models`; empty for a
   * board from before model names.
   */
  readonly models: readonly NamedModel[];
  readonly delegate: { readonly active: string; readonly fallback_reason: string | null } | null;
  readonly tags: readonly string[];
  readonly cameras: readonly CameraRow[];
}

interface BoardState {
  availability: 'online' | 'offline' | null;
  /** ms epoch when this view saw availability change (not for the first, retained value). */
  changedAt: number | null;
  info: BridgeInfo | null;
  capture: Map<string, 'online' | 'offline'>;
  stats: StatsPayload | null;
}

const iso = (seconds: number | null | undefined): string | null =>
  typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : null;

function parseJson<T>(payload: Buffer | string): T | null {
  try {
    const v = JSON.parse(payload.toString()) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as T) : null;
  } catch {
    return null;
  }
}

/** bridge/info `models`, keeping the well-formed entries (one malformed entry must not hide the others). */
function namedModels(list: readonly unknown[]): NamedModel[] {
  return list.flatMap((m) => {
    const e = m as Partial<Record<keyof NamedModel, unknown>> | null;
    if (typeof e?.name !== 'string' || typeof e.id !== 'string' || typeof e.sha256 !== 'string') return [];
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    return [{ name: e.name, id: e.id, sha256: e.sha256, installed: text(e.installed), version: text(e.version) }];
  });
}

export class FleetView {
  readonly #boards = new Map<string, BoardState>();
  readonly #now: () => number;

  /** @param now wall clock, ms (tests pass a fixed one). */
  constructor(
    readonly topics: FleetTopics,
    now: () => number = Date.now,
  ) {
    this.#now = now;
  }

  /**
   * Folds one message in. Returns the device id it changed, or null for topics that are not part of a
   * board's status (and malformed payloads, which are ignored: one bad board must not hide the others).
   */
  ingest(topic: string, payload: Buffer | string, retained = false): string | null {
    const parsed = this.topics.parse(topic);
    if (!parsed) return null;
    const { device, rest } = parsed;
    const key = rest.join('/');
    const text = payload.toString().trim();
    if (key === 'availability') {
      if (text !== 'online' && text !== 'offline') return null;
      const b = this.#board(device);
      if (b.availability !== text) {
        // A retained value is old news of unknown age; a live change is timed here.
        if (!retained) b.changedAt = this.#now();
        b.availability = text;
      }
      return device;
    }
    if (key === 'bridge/info') {
      const info = parseJson<BridgeInfo>(payload);
      if (!info) return null;
      this.#board(device).info = info;
      return device;
    }
    if (key === 'stats') {
      const stats = parseJson<StatsPayload>(payload);
      if (!stats) return null;
      this.#board(device).stats = stats;
      return device;
    }
    if (rest.length === 3 && rest[1] === 'status' && rest[2] === 'capture') {
      if (text !== 'online' && text !== 'offline') return null;
      this.#board(device).capture.set(rest[0], text);
      return device;
    }
    return null;
  }

  /** Device ids seen so far, sorted. */
  get devices(): string[] {
    return [...this.#boards.keys()].sort();
  }

  /** One board's row, or null when nothing of it was seen. */
  board(device: string): BoardRow | null {
    const b = this.#boards.get(device);
    return b ? this.#row(device, b) : null;
  }

  /** Every board, sorted by device id. */
  boards(): BoardRow[] {
    return this.devices.map((d) => this.#row(d, this.#boards.get(d)!));
  }

  /** The raw last stats of a board (for health gates). */
  stats(device: string): StatsPayload | null {
    return this.#boards.get(device)?.stats ?? null;
  }

  #board(device: string): BoardState {
    let b = this.#boards.get(device);
    if (!b) {
      b = { availability: null, changedAt: null, info: null, capture: new Map(), stats: null };
      this.#boards.set(device, b);
    }
    return b;
  }

  #row(device: string, b: BoardState): BoardRow {
    const { info, stats } = b;
    const online = b.availability === null ? null : b.availability === 'online';
    const seenChange = b.changedAt === null ? null : new Date(b.changedAt).toISOString();
    const since =
      online === true
        ? (iso(stats?.online_since) ?? seenChange)
        : online === false
          ? (seenChange ?? iso(stats?.time))
          : null;
    const names = new Set<string>([
      ...(Array.isArray(info?.cameras) ? (info.cameras as string[]) : []),
      ...b.capture.keys(),
      ...Object.keys(stats?.fps ?? {}),
    ]);
    const cameras = [...names].sort().map((name): CameraRow => ({
      name,
      capture: b.capture.get(name) ?? null,
      fps: stats?.fps?.[name] ?? null,
      events_total: stats ? (stats.events_total?.[name] ?? 0) : null,
      last_event: iso(stats?.last_event_time?.[name]),
      stale: online !== true,
    }));
    return {
      device,
      online,
      since,
      last_seen: iso(stats?.time),
      version: info?.version ?? null,
      model: info?.model
        ? {
            id: info.model.id,
            sha256: info.model.sha256,
            installed: info.model.installed ?? null,
            version: info.model.version ?? null,
          }
        : null,
      models: Array.isArray(info?.models) ? namedModels(info.models) : [],
      delegate: info?.delegate
        ? { active: info.delegate.active, fallback_reason: info.delegate.fallback_reason ?? null }
        : null,
      tags: Array.isArray(info?.tags) ? info.tags.filter((t): t is string => typeof t === 'string') : [],
      cameras,
    };
  }
}
