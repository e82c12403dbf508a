/**
 * One short, deterministic daemon run for the arm64 parity test: `faceedge run` on a GIF played as fast
 * as the pipeline takes it (`realtime: false`, so no frame is dropped however slow the CPU), publishing to
 * a real broker, until the daemon stops by itself when the clip has ended. A subscriber records what a
 * consumer would see: the events and the retained `bridge/info` (which names the active delegates).
 *
 * Wall-clock values are the only thing allowed to differ between two CPUs, so `comparableEvents` drops
 * them (`start_time`, `end_time`, the outbox's random message `id`) and renames track ids to their
 * order of appearance; everything else — type, box, class, score, top_score, frames, seq — is kept.
 * `update_interval_ms` is set beyond the clip's length: updates are paced by wall time, so a slower
 * CPU would otherwise publish more of them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { runScript, type NodeRuntime, type ScriptResult } from './node-runtime.js';

export interface ClipRun {
  readonly result: ScriptResult;
  /** Payloads on `<cam>/events`, parsed, in arrival order. */
  readonly events: readonly Record<string, unknown>[];
  /** `<cam>/face` payloads (`ON`/`OFF`) in arrival order. */
  readonly presence: readonly string[];
  /** The last retained `bridge/info`, parsed (null if none arrived). */
  readonly bridgeInfo: Record<string, unknown> | null;
}

export interface ClipRunOptions {
  readonly brokerUrl: string;
  /** Device id: each run gets its own, so retained messages of one run never reach the other's subscriber. */
  readonly device: string;
  readonly clip: string;
  /** A fresh folder for the config and the state (outbox). */
  readonly dir: string;
  readonly timeoutMs: number;
}

const CAMERA = 'clip';

/** Runs the daemon on `clip` to its own end and returns what the subscriber received. */
export async function runDaemonOnClip(runtime: NodeRuntime, o: ClipRunOptions): Promise<ClipRun> {
  const configFile = join(o.dir, 'faceedge.yaml');
  writeFileSync(
    configFile,
    stringify({
      device: { id: o.device },
      mqtt: { url: o.brokerUrl, reconnect_period_ms: 200 },
      cameras: [{ name: CAMERA, source: { type: 'gif', path: o.clip, realtime: false } }],
      // Every frame classified: the classification cadence (classify_interval_ms) follows capture times,
      // which differ between a native and an emulated run of the same clip.
      tracker: { update_interval_ms: 3_600_000, classify_interval_ms: 0 },
      http: { port: 0 },
      log: { level: 'info' },
      state_dir: join(o.dir, 'state'),
    }),
  );
  const root = `faceedge/${o.device}`;
  const probe = await MqttProbe.connect(o.brokerUrl, [`${root}/#`]);
  try {
    const result = await runScript(runtime, 'src/cli/main.js', ['run', '--config', configFile], {
      timeoutMs: o.timeoutMs,
    });
    if (result.code === 0) {
      // The daemon publishes `offline` last, after its outbox is delivered: then every event is in.
      await probe.waitFor(
        (m) => m.topic === `${root}/availability` && m.text === 'offline',
        10_000,
        'availability offline',
      );
    }
    const info = probe.on(`${root}/bridge/info`).at(-1);
    return {
      result,
      events: probe.on(`${root}/${CAMERA}/events`).map((m) => JSON.parse(m.text) as Record<string, unknown>),
      presence: probe.on(`${root}/${CAMERA}/face`).map((m) => m.text),
      bridgeInfo: info ? (JSON.parse(info.text) as Record<string, unknown>) : null,
    };
  } finally {
    await probe.close();
  }
}

/** Events with wall-clock values and random ids removed, and track ids renamed `track-1`, `track-2`… by first appearance. */
export function comparableEvents(events: readonly Record<string, unknown>[]): unknown[] {
  const trackNames = new Map<unknown, string>();
  const track = (id: unknown): string => {
    if (!trackNames.has(id)) trackNames.set(id, `track-${trackNames.size + 1}`);
    return trackNames.get(id)!;
  };
  const snapshot = (s: unknown): unknown => {
    if (s === null || typeof s !== 'object') return s;
    const { start_time: _start, end_time: end, id, ...rest } = s as Record<string, unknown>;
    return { ...rest, id: track(id), ended: end !== null && end !== undefined };
  };
  return events.map(({ id: _messageId, before, after, ...rest }) => ({
    ...rest,
    before: snapshot(before),
    after: snapshot(after),
  }));
}
