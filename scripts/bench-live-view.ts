/**
 * The bench's `live_view` figures: what the live view costs the pipeline, measured as the daemon pays
 * it (its HTTP routes on a real server, every processed frame fed to it), with no page open against
 * one MJPEG viewer, alternating.
 */
import http from 'node:http';
import type { FaceClassifier } from '../src/inference/face-classifier.js';
import type { DetectorModel, FaceDetector } from '../src/inference/face-detector.js';
import { LiveViewRoutes } from '../src/live-view/live-view-routes.js';
import { LiveView } from '../src/live-view/live-view.js';
import { HealthServer } from '../src/observability/health-server.js';
import { silentLogger } from '../src/observability/logger.js';
import { DaemonMetrics } from '../src/observability/metrics.js';
import type { VisibleTrack } from '../src/pipeline/face-tracker.js';

export interface LiveViewBenchDeps {
  readonly classifier: FaceClassifier;
  readonly detector: FaceDetector;
  readonly detectorModel: DetectorModel;
  readonly brokerUrl: string;
  /** Runs the bench pipeline over `frames` for `durationS`, feeding `live`; returns frames per second. */
  readonly run: (frames: Buffer[], durationS: number, live: LiveView) => Promise<number>;
  /** The tracks of the run in progress (the boxes drawn). */
  readonly tracks: () => readonly VisibleTrack[];
}

/**
 * The live view's cost as the daemon pays it: its HTTP routes on a real server, the pipeline feeding
 * every processed frame to it, and either no page open or one MJPEG viewer reading the overlay stream
 * over loopback, alternating.
 */
export async function measureLiveView(frames: Buffer[], durationS: number, deps: LiveViewBenchDeps) {
  const { classifier, detector, detectorModel, brokerUrl: url, run, tracks } = deps;
  const camera = {
    name: 'live',
    frames: 0,
    paused: false,
    slot: { stats: () => ({ dropped: 0 }) },
    visibleTracks: tracks,
  };
  const board = () => ({
    version: 'bench',
    device: 'bench',
    model: { id: classifier.id, sha256: classifier.sha256, threshold: null, labels: classifier.labels },
    delegate: { active: classifier.delegate.active, fallback_reason: null },
    detector: { model: detectorModel, delegate: detector.delegate.active },
    mqtt: { connected: true, outbox_depth: 0, broker: url },
    gpio: { outputs: [], inputs: [] },
    cpu_temperature_c: null,
  });
  const live = new LiveView({
    cameras: [camera],
    board,
    labels: () => classifier.labels,
    snapshots: false,
    log: silentLogger(),
  });
  const routes = new LiveViewRoutes({ live, log: silentLogger() });
  const server = new HealthServer({
    host: '127.0.0.1',
    port: 0,
    health: () => ({ started: true, broker_connected: true, last_frame_age_ms: {}, model: null }),
    metrics: new DaemonMetrics(),
    log: silentLogger(),
    routes: (req, res) => routes.handle(req, res),
  });
  await server.start();
  const fps = { none: [] as number[], one: [] as number[] };
  // CPU time per frame (this process, all threads) is the cost itself; frames/s also moves with whatever
  // else the machine runs, so both are reported.
  const cpuMsPerFrame = { none: [] as number[], one: [] as number[] };
  const measure = async (kind: 'none' | 'one') => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const rate = await run(frames, durationS / 8, live);
    const used = process.cpuUsage(cpu);
    fps[kind].push(rate);
    cpuMsPerFrame[kind].push((used.user + used.system) / 1000 / (rate * ((performance.now() - started) / 1000)));
  };
  let bytes = 0;
  const feed = live.feed('live')!;
  const encodedBefore = feed.encodedCount;
  let withFaces = 0;
  let viewingS = 0;
  // A B B A A B B A: a trend over the measurement (the machine's other load, the outbox filling) hits both alike.
  for (const kind of ['none', 'one', 'one', 'none', 'none', 'one', 'one', 'none'] as const) {
    if (kind === 'none') {
      await measure('none');
      continue;
    }
    const viewer = await new Promise<http.ClientRequest>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: server.port, path: '/live/cameras/live/stream.mjpeg' }, (res) => {
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        resolve(req);
      });
    });
    // Counted only while the viewer watches: a subscriber is a viewer, and "none" must have none.
    const unsubscribe = feed.subscribe((picture) => void (picture.faces > 0 && withFaces++));
    const started = performance.now();
    await measure('one');
    viewingS += (performance.now() - started) / 1000;
    unsubscribe();
    viewer.destroy();
  }
  live.close();
  await server.stop();
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const round1 = (v: number) => Math.round(v * 10) / 10;
  return {
    fps_no_viewer: round1(mean(fps.none)),
    fps_one_viewer: round1(mean(fps.one)),
    ratio: Math.round((mean(fps.one) / mean(fps.none)) * 1000) / 1000,
    cpu_ms_per_frame_no_viewer: Math.round(mean(cpuMsPerFrame.none) * 1000) / 1000,
    cpu_ms_per_frame_one_viewer: Math.round(mean(cpuMsPerFrame.one) * 1000) / 1000,
    pictures_per_s: round1((feed.encodedCount - encodedBefore) / viewingS),
    /** Share of those pictures with faces tracked in them (the page draws them; every picture is the camera's JPEG as it came). */
    pictures_with_faces: Math.round((withFaces / Math.max(1, feed.encodedCount - encodedBefore)) * 100) / 100,
    stream_kb_per_s: Math.round(bytes / 1024 / viewingS),
  };
}
