/**
 * `npm run fleet-sim`: a fleet on this machine, bounded and self-stopping. ≥ 20 real daemons (the
 * built release, a GIF clip at a low frame rate, each its own process, state and device id) on one real
 * Mosquitto, driven by the real fleet code:
 *
 *   1. `fleet status` sees every board online;
 *   2. a tag rollout, canary 2 and waves of 6, completes;
 *   3. a rollout whose first canary holds the wrong signing key stops at the canary and rolls the other
 *      canary back; every other board is untouched;
 *   4. a board SIGKILLed during a later wave is reported and stops the rollout (switched boards rolled back);
 *      the killed board is then restarted so its outbox delivers what it held.
 *
 * Prints one JSON report: wall time per phase, broker and daemon RSS, events received and lost (gaps in
 * each board's outbox sequence; must be 0), each rollout's outcome. Options: --boards N (default 22),
 * --fps F (default 2), --soak S (default 5), --limit-min M (hard stop, default 20).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fleetStatus } from '../src/fleet/fleet-status.js';
import { runRollout, type RolloutOptions } from '../src/fleet/rollout.js';
import type { RolloutState } from '../src/fleet/rollout-state.js';
import { type BoardSpec, TestFleet } from '../test/helpers/fleet-boards.js';
import { modelPackageSource } from '../test/helpers/model-package-fixture.js';
import { Mosquitto } from '../test/helpers/mosquitto.js';
import { MqttProbe } from '../test/helpers/mqtt-probe.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const BOARDS = flag('--boards', 22);
const FPS = flag('--fps', 2);
const SOAK = flag('--soak', 5);
const LIMIT_MIN = flag('--limit-min', 20);

const SOURCE = modelPackageSource();
if (!SOURCE) throw new Error('no model package (models/ incomplete)');

const rssMb = (pid: number | null): number | null => {
  if (!pid) return null;
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return line ? Math.round(Number(line.split(/\s+/)[1]) / 1024) : null;
  } catch {
    return null;
  }
};
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : { min: s[0], median: s[Math.floor(s.length / 2)], max: s.at(-1)! };
};
const outcome = (s: RolloutState) => {
  const counts: Record<string, number> = {};
  for (const b of Object.values(s.boards)) counts[b.state] = (counts[b.state] ?? 0) + 1;
  return { status: s.status, stop_reason: s.stop_reason, waves: s.waves.map((w) => w.length), outcomes: counts };
};

const work = mkdtempSync(join(tmpdir(), 'faceedge-fleet-sim-'));
const t0 = Date.now();
const phases: Record<string, number> = {};
const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const start = Date.now();
  process.stderr.write(`[fleet-sim ${Math.round((start - t0) / 1000)}s] ${name}\n`);
  try {
    return await fn();
  } finally {
    phases[name] = Math.round((Date.now() - start) / 100) / 10;
  }
};

const broker = await Mosquitto.start();
const fleet = new TestFleet(work, broker.url, SOURCE, FPS, true);
const hardStop = setTimeout(() => {
  process.stderr.write(`fleet-sim: over the ${LIMIT_MIN}-minute limit, stopping everything\n`);
  void fleet.dispose().finally(() => broker.dispose().finally(() => process.exit(2)));
}, LIMIT_MIN * 60_000);

const rss = { broker: [] as number[], daemonSamples: [] as number[][] };
const sampler = setInterval(() => {
  const b = rssMb(broker.pid);
  if (b !== null) rss.broker.push(b);
  rss.daemonSamples.push(
    [...fleet.boards.values()]
      .filter((d) => d.exitStatus === null)
      .map((d) => rssMb(d.pid))
      .filter((x): x is number => x !== null),
  );
}, 2000);

const consumer = await MqttProbe.connect(broker.url, ['faceedge/+/+/events'], {
  clientId: 'fleet-sim-consumer',
  clean: false,
});
// Message sizes for docs/fleet.md's arithmetic (bytes of payload, as the broker forwards them).
const sizes = await MqttProbe.connect(broker.url, ['faceedge/+/bridge/info', 'faceedge/+/stats']);
const meanBytes = (texts: string[]) =>
  texts.length === 0 ? null : Math.round(texts.reduce((a, t) => a + Buffer.byteLength(t), 0) / texts.length);
const specs: BoardSpec[] = Array.from({ length: BOARDS - 1 }, (_, i) => ({
  id: `board-${String(i + 1).padStart(2, '0')}`,
  tags: ['sim'],
}));
// Provisioned with another signing key, and serving the float model, so every package is news to it.
const odd: BoardSpec = {
  id: 'odd-00',
  tags: ['odd'],
  publicKeyPem: fleet.strangerPublicKey('stranger'),
  classifier: fleet.shippedFloatModel,
};
const report: Record<string, unknown> = { boards: BOARDS, fps_per_board: FPS, soak_s: SOAK };
const base = (
  state: string,
): Pick<RolloutOptions, 'url' | 'statePath' | 'soakS' | 'baselineS' | 'concurrency' | 'thresholds' | 'log'> => ({
  url: broker.url,
  statePath: join(work, state),
  soakS: SOAK,
  baselineS: SOAK,
  concurrency: 6,
  // Frames are gated; events are not: the clip's people come and go, so 5 s windows of events are noise.
  thresholds: { minFrameRatio: 0.5, minEventRatio: 0, minBaselineEvents: 5 },
  log: (line) => process.stderr.write(`    ${line}\n`),
});

try {
  await phase('start daemons', () => fleet.start([odd, ...specs], 600_000));

  report.status = await phase('fleet status', async () => {
    await new Promise((r) => setTimeout(r, 3000)); // every board's first stats
    const started = Date.now();
    const doc = await fleetStatus({ url: broker.url });
    return {
      ms: Date.now() - started,
      boards: doc.boards.length,
      online: doc.boards.filter((b) => b.online).length,
      with_stats: doc.boards.filter((b) => b.last_seen).length,
    };
  });

  const v2 = fleet.floatPackage('sim-v2');
  report.rollout_canary2_waves6 = await phase('rollout: canary 2, waves of 6', async () =>
    outcome(
      (await runRollout({ ...base('v2.json'), packageDir: v2.dir, selector: { tag: 'sim' }, canary: 2, wave: 6 }))
        .state,
    ),
  );

  const v3 = fleet.int8Package('sim-v3');
  report.rollout_wrong_key_canary = await phase('rollout: wrong-key canary', async () => {
    const devices = [odd.id, ...specs.map((s) => s.id)];
    const r = await runRollout({ ...base('v3.json'), packageDir: v3.dir, selector: { devices }, canary: 2, wave: 6 });
    const after = (await fleetStatus({ url: broker.url })).boards;
    return {
      ...outcome(r.state),
      boards_on_v2_after: after.filter((b) => b.model?.sha256 === v2.sha256).length,
      boards_on_v3_after: after.filter((b) => b.model?.sha256 === v3.sha256).length,
    };
  });

  const v4 = fleet.int8Package('sim-v4');
  report.rollout_board_killed = await phase('rollout: a board SIGKILLed mid-wave', async () => {
    let victim: string | null = null;
    const r = await runRollout({
      ...base('v4.json'),
      packageDir: v4.dir,
      selector: { tag: 'sim' },
      canary: 2,
      wave: 6,
      log: (line) => {
        process.stderr.write(`    ${line}\n`);
        const m = /^wave 2\/\d+: (.*)$/.exec(line);
        if (m && !victim) {
          victim = m[1].split(', ').at(-1)!;
          setTimeout(
            () => (process.stderr.write(`    SIGKILL ${victim}\n`), fleet.board(victim!).signal('SIGKILL')),
            1500,
          );
        }
      },
    });
    const killed = victim ? r.state.boards[victim] : null;
    return { ...outcome(r.state), killed: victim, killed_board: killed };
  });

  report.events = await phase('restart the killed board, drain, stop', async () => {
    const victim = (report.rollout_board_killed as { killed: string | null }).killed;
    if (victim) await fleet.start([specs.find((s) => s.id === victim)!]);
    await new Promise((r) => setTimeout(r, 5000));
    const steady = rss.daemonSamples.at(-1) ?? [];
    report.rss_mb = {
      broker: stats(rss.broker),
      daemons_last_sample: stats(steady),
      daemons_last_sample_sum: steady.reduce((a, b) => a + b, 0),
      daemon_peak: Math.max(...rss.daemonSamples.flat()),
    };
    for (const d of fleet.boards.values()) d.signal('SIGTERM');
    await Promise.all([...fleet.boards.values()].map((d) => d.exited));
    await new Promise((r) => setTimeout(r, 2000));
    const byBoard = new Map<string, Set<number>>();
    for (const m of consumer.messages) {
      const device = m.topic.split('/')[1];
      const seq = (JSON.parse(m.text) as { seq: number }).seq;
      let set = byBoard.get(device);
      if (!set) byBoard.set(device, (set = new Set()));
      set.add(seq);
    }
    let lost = 0;
    const perBoard: Record<string, { received: number; max_seq: number; lost: number }> = {};
    for (const [device, seqs] of byBoard) {
      const max = Math.max(...seqs);
      const missing = max - seqs.size; // seq counts from 1 on a fresh state dir
      lost += missing;
      perBoard[device] = { received: seqs.size, max_seq: max, lost: missing };
    }
    report.message_bytes = {
      event: meanBytes(consumer.messages.map((m) => m.text)),
      bridge_info: meanBytes(sizes.messages.filter((m) => m.topic.endsWith('/bridge/info')).map((m) => m.text)),
      stats: meanBytes(sizes.messages.filter((m) => m.topic.endsWith('/stats')).map((m) => m.text)),
    };
    return {
      messages: consumer.messages.length,
      distinct: [...byBoard.values()].reduce((a, s) => a + s.size, 0),
      boards_with_events: byBoard.size,
      lost,
      duplicates: consumer.messages.length - [...byBoard.values()].reduce((a, s) => a + s.size, 0),
      per_board_lost: Object.fromEntries(Object.entries(perBoard).filter(([, b]) => b.lost > 0)),
    };
  });
} finally {
  clearInterval(sampler);
  clearTimeout(hardStop);
  await consumer.close().catch(() => undefined);
  await sizes.close().catch(() => undefined);
  await fleet.dispose();
  await broker.dispose();
  rmSync(work, { recursive: true, force: true });
}
report.wall_s = Math.round((Date.now() - t0) / 1000);
report.phases_s = phases;
console.log(JSON.stringify(report, null, 2));
const ok =
  (report.rollout_canary2_waves6 as { status: string }).status === 'completed' &&
  (report.rollout_wrong_key_canary as { status: string }).status === 'stopped' &&
  (report.rollout_board_killed as { status: string }).status === 'stopped' &&
  (report.events as { lost: number }).lost === 0;
process.exitCode = ok ? 0 : 1;
