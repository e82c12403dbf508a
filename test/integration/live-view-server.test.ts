/**
 * The live view over real HTTP (the daemon's HealthServer with the live-view routes): access rules,
 * one shared picture for every viewer with its faces as data, nothing encoded without viewers, a camera
 * shown at its own rate, a slow viewer dropped pictures instead of buffering them, events and the board
 * over Server-Sent Events, the icon.
 */
import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import type { BoardFacts } from '../../src/live-view/board-state.js';
import { LiveViewRoutes } from '../../src/live-view/live-view-routes.js';
import { LiveView } from '../../src/live-view/live-view.js';
import { MjpegResponse } from '../../src/live-view/mjpeg-response.js';
import { DEFAULT_LIVE_FPS } from '../../src/live-view/overlay-feed.js';
import { SseStream } from '../../src/live-view/sse-stream.js';
import { HealthServer } from '../../src/observability/health-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { DaemonMetrics } from '../../src/observability/metrics.js';
import type { VisibleTrack } from '../../src/pipeline/face-tracker.js';
import type { TrackEvent } from '../../src/pipeline/track-event.js';
import { MjpegClient } from '../helpers/mjpeg-client.js';
import { waitUntil } from '../helpers/wait-until.js';

const SHA = 'ab'.repeat(32);
const board = (): BoardFacts => ({
  version: '9.9.9',
  device: 'testdev',
  model: { id: 'faceedge-gender', sha256: SHA, threshold: 0.5, labels: ['female', 'male'] },
  delegate: { active: 'xnnpack', fallback_reason: null },
  detector: { model: 'full', delegate: 'xnnpack' },
  mqtt: { connected: true, outbox_depth: 4, broker: 'mqtt://127.0.0.1:1883' },
  gpio: { outputs: [{ name: 'relay', on: false }], inputs: [{ name: 'pir', on: null }] },
  cpu_temperature_c: 51.5,
});
const track: VisibleTrack = {
  id: 'door-7',
  camera: 'door',
  box: { x: 200, y: 100, width: 60, height: 60 },
  face_area: 3600,
  class: 'male',
  score: 0.93,
  top_score: 0.97,
  frames: 12,
  start_time: 1,
  end_time: null,
  model: 'faceedge-gender',
  confirmed: true,
};
/** What the fake camera's tracker sees in its last frame. */
let visible: VisibleTrack[] = [track];
const camera = {
  name: 'door',
  frames: 0,
  paused: false,
  slot: { stats: () => ({ dropped: 3 }) },
  visibleTracks: () => visible,
};

/** A 480×270 RGB frame: a mid-grey picture with a lighter square where the "face" is. */
function frame(seq: number): Frame {
  const width = 480,
    height = 270;
  const data = Buffer.alloc(width * height * 3, 90);
  for (let y = 110; y < 150; y++) data.fill(160 + (seq % 50), (y * width + 210) * 3, (y * width + 250) * 3);
  return { seq, timestampMs: seq * 33, wallTimeMs: Date.now(), image: { kind: 'rgb', data, width, height } };
}

function get(
  port: number,
  path: string,
  options: { headers?: Record<string, string>; method?: string; host?: string } = {},
) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(
      { host: options.host ?? '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

/** Server-Sent Events as a list of { event, data } (parsed JSON), for waiting on. */
function openEvents(port: number, headers: Record<string, string> = {}) {
  const events: { event: string; data: any }[] = [];
  let text = '';
  let req: ReturnType<typeof request>;
  const opened = new Promise<void>((resolve, reject) => {
    req = request({ host: '127.0.0.1', port, path: '/live/events', headers }, (res) => {
      resolve();
      res.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        let end: number;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (name && data) events.push({ event: name, data: JSON.parse(data) });
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
  return { events, opened, close: () => req.destroy() };
}

describe('live view over HTTP', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    visible = [track];
  });

  async function serve(
    o: {
      auth?: { username: string; password: string };
      snapshots?: boolean;
      host?: string;
      cameras?: (typeof camera)[];
      maxFps?: number;
    } = {},
  ) {
    const live = new LiveView({
      cameras: o.cameras ?? [camera],
      board,
      labels: () => ['female', 'male'],
      snapshots: o.snapshots ?? false,
      log: silentLogger(),
      maxFps: o.maxFps ?? Infinity,
      tickMs: 100,
    });
    const routes = new LiveViewRoutes({ live, auth: o.auth, log: silentLogger() });
    const server = new HealthServer({
      host: o.host ?? '127.0.0.1',
      port: 0,
      metrics: new DaemonMetrics(),
      log: silentLogger(),
      routes: (req, res) => routes.handle(req, res),
      health: () => ({
        started: true,
        broker_connected: true,
        last_frame_age_ms: {},
        model: { id: 'm', sha256: SHA, delegate: 'xnnpack' },
      }),
    });
    await server.start();
    cleanups.push(
      () => server.stop(),
      () => live.close(),
    );
    return { live, port: server.port };
  }

  it('encodes nothing without viewers, then once per picture for all viewers, with the faces in each part', async () => {
    const { live, port } = await serve();
    const feed = live.feed('door')!;
    live.frame('door', frame(0));
    await new Promise((r) => setTimeout(r, 50));
    expect(feed.encodedCount).toBe(0);

    const a = await MjpegClient.open(port, '/live/cameras/door/stream.mjpeg');
    const b = await MjpegClient.open(port, '/live/cameras/door/stream.mjpeg');
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    expect(a.response.headers['content-type']).toMatch(/^multipart\/x-mixed-replace; boundary=/);
    for (let i = 1; i <= 5; i++) {
      live.frame('door', frame(i));
      await Promise.all([a.waitForParts(i), b.waitForParts(i)]);
    }
    expect(feed.encodedCount).toBe(5);
    expect(a.parts.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 0; i < 5; i++) expect(a.parts[i].jpeg.equals(b.parts[i].jpeg)).toBe(true);

    // The confirmed "male" track travels as data for the page to draw (the second label's colour); the
    // picture itself is the frame, nothing drawn on it.
    expect(a.parts[4].tracks).toEqual([
      { id: 'door-7', class: 'male', score: 0.93, confirmed: true, label_index: 1, box: track.box },
    ]);
    const { data, info } = await sharp(a.parts[4].jpeg).raw().toBuffer({ resolveWithObject: true });
    const pixel = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const near = (p: number[], q: readonly number[]) => p.every((v, k) => Math.abs(v - q[k]) < 12);
    expect(near(pixel(199, 130), [90, 90, 90]), `left edge ${pixel(199, 130)}`).toBe(true);

    // A one-off picture is the same shared encode, with the same header; once every viewer is gone nothing
    // is encoded any more.
    const single = await new Promise<{ body: Buffer; tracks: unknown }>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/live/cameras/door/frame.jpg' }, (res) => {
        const chunks: Buffer[] = [];
        res
          .on('data', (c: Buffer) => chunks.push(c))
          .on('end', () =>
            resolve({ body: Buffer.concat(chunks), tracks: JSON.parse(String(res.headers['x-faceedge-tracks'])) }),
          );
      });
      req.end();
      setTimeout(() => live.frame('door', frame(6)), 100);
    });
    await a.waitForParts(6);
    expect(single.body.equals(a.parts[5].jpeg)).toBe(true);
    expect(single.tracks).toEqual(a.parts[5].tracks);
    a.close();
    b.close();
    await waitUntil(() => !feed.watched, 5000);
    live.frame('door', frame(7));
    await new Promise((r) => setTimeout(r, 50));
    expect(feed.encodedCount).toBe(6);
  });

  it("passes a camera's JPEG on untouched, with faces or without, the faces in the part's header", async () => {
    const { live, port } = await serve();
    const rgb = frame(1).image as { data: Buffer; width: number; height: number };
    const jpeg = await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
      .jpeg()
      .toBuffer();
    const encoded = (seq: number): Frame => ({
      seq,
      timestampMs: 0,
      wallTimeMs: 0,
      image: { kind: 'encoded', data: jpeg, origin: `test#${seq}` },
    });
    const viewer = await MjpegClient.open(port, '/live/cameras/door/stream.mjpeg');
    cleanups.push(() => viewer.close());
    visible = [];
    live.frame('door', encoded(1));
    await viewer.waitForParts(1);
    expect(viewer.parts[0].jpeg.equals(jpeg)).toBe(true);
    expect(viewer.parts[0].tracks).toEqual([]);
    visible = [track];
    live.frame('door', encoded(2));
    await viewer.waitForParts(2);
    expect(viewer.parts[1].jpeg.equals(jpeg)).toBe(true);
    expect(viewer.parts[1].tracks).toEqual([expect.objectContaining({ id: 'door-7', label_index: 1 })]);
  });

  it('shows a 12 fps camera at 12 pictures a second to a viewer (the old 100 ms limiter showed 6)', async () => {
    const { live, port } = await serve({ maxFps: DEFAULT_LIVE_FPS });
    const rgb = frame(1).image as { data: Buffer; width: number; height: number };
    const jpeg = await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
      .jpeg()
      .toBuffer();
    const viewer = await MjpegClient.open(port, '/live/cameras/door/stream.mjpeg');
    cleanups.push(() => viewer.close());
    // 3 s of a camera at 12 frames/s, on a schedule (timer lateness does not accumulate).
    const started = performance.now();
    for (let seq = 0; seq < 36; seq++) {
      live.frame('door', { seq, timestampMs: 0, wallTimeMs: 0, image: { kind: 'encoded', data: jpeg, origin: 'c' } });
      await new Promise((r) => setTimeout(r, Math.max(0, started + ((seq + 1) * 1000) / 12 - performance.now())));
    }
    await viewer.waitForParts(36, 5000).catch(() => undefined);
    const seconds = (viewer.parts.at(-1)!.at - viewer.parts[0].at) / 1000;
    const perSecond = (viewer.parts.length - 1) / seconds;
    expect(viewer.parts.map((p) => p.seq)).toEqual([...Array(36).keys()]);
    expect(perSecond).toBeGreaterThan(10);
  });

  it("keeps each camera's events in order when several cameras report at once and crops take time", async () => {
    const yard = { ...camera, name: 'yard' };
    const { live, port } = await serve({ snapshots: true, cameras: [camera, yard] });
    const sse = openEvents(port);
    cleanups.push(() => sse.close());
    await sse.opened;
    await waitUntil(() => sse.events.some((e) => e.event === 'hello'), 5000);
    const expected: Record<string, string[]> = { door: [], yard: [] };
    for (let i = 0; i < 12; i++) {
      for (const name of ['door', 'yard']) {
        const snapshot = { ...track, id: `${name}-${i}`, camera: name };
        // new (cropped from the frame that follows), then end without a frame: the end must not overtake it.
        live.events(name, [{ type: 'new', before: null, after: snapshot }]);
        live.frame(name, frame(i));
        live.events(name, [{ type: 'end', before: snapshot, after: { ...snapshot, end_time: 2 } }]);
        expected[name].push(`new ${name}-${i}`, `end ${name}-${i}`);
      }
    }
    await waitUntil(() => sse.events.filter((e) => e.event === 'event').length === 48, 10_000);
    const got: Record<string, string[]> = { door: [], yard: [] };
    for (const e of sse.events.filter((x) => x.event === 'event'))
      got[e.data.camera].push(`${e.data.type} ${e.data.track.id}`);
    expect(got).toEqual(expected);
    expect(
      sse.events
        .filter((e) => e.event === 'event' && e.data.type === 'new')
        .every((e) => typeof e.data.crop === 'string'),
    ).toBe(true);
  });

  it('with http.auth: every live-view route needs the credentials; /healthz and /metrics do not', async () => {
    const { port } = await serve({ auth: { username: 'viewer', password: 's3cret' } });
    for (const path of [
      '/live',
      '/live/',
      '/live/state',
      '/live/events',
      '/live/live-view.js',
      '/live/cameras/door/stream.mjpeg',
      '/live/cameras/door/frame.jpg',
      '/live/nope',
    ]) {
      const bare = await get(port, path);
      expect(bare.status, path).toBe(401);
      expect(String(bare.headers['www-authenticate'])).toMatch(/^Basic realm="faceedge live view"/);
      expect((await get(port, path, { headers: basic('viewer', 'wrong') })).status, path).toBe(401);
    }
    const page = await get(port, '/live/', { headers: basic('viewer', 's3cret') });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('live-view.js');
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'self'");
    const state = await get(port, '/live/state', { headers: basic('viewer', 's3cret') });
    expect(JSON.parse(state.body).board).toMatchObject({
      model: { sha256: SHA, threshold: 0.5 },
      cameras: [{ name: 'door', dropped: 3, paused: false }],
    });
    expect((await get(port, '/live/state', { headers: basic('viewer', 's3cret'), method: 'POST' })).status).toBe(405);
    expect((await get(port, '/live/cameras/yard/stream.mjpeg', { headers: basic('viewer', 's3cret') })).status).toBe(
      404,
    );
    expect((await get(port, '/healthz')).status).toBe(200);
    expect((await get(port, '/metrics')).status).toBe(200);
    expect((await get(port, '/elsewhere')).status).toBe(404);
    // The browser's own request for the icon is answered without credentials (it says nothing about the board).
    const icon = await get(port, '/favicon.ico');
    expect(icon.status).toBe(200);
    expect(icon.headers['content-type']).toBe('image/x-icon');
    expect((await get(port, '/live/favicon.svg')).status).toBe(401);
    expect((await get(port, '/live/favicon.svg', { headers: basic('viewer', 's3cret') })).headers['content-type']).toBe(
      'image/svg+xml',
    );
  });

  it('answers 404 for names an object inherits (constructor, __proto__, toString…), never 500', async () => {
    const { port } = await serve();
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
      const answer = await get(port, `/live/${name}`);
      expect(answer.status, name).toBe(404);
      expect(answer.body, name).toContain('not found');
    }
    expect((await get(port, '/live/live-view.js')).status).toBe(200);
  });

  const lanAddress = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  it.skipIf(!lanAddress)('without http.auth: loopback clients only, others get 403 with a hint', async () => {
    const { port } = await serve({ host: '0.0.0.0' });
    const fromLan = await get(port, '/live/', { host: lanAddress });
    expect(fromLan.status).toBe(403);
    expect(fromLan.body).toContain('http.auth');
    expect((await get(port, '/live/state', { host: lanAddress })).status).toBe(403);
    expect((await get(port, '/healthz', { host: lanAddress })).status).toBe(200);
    expect((await get(port, '/live/', { host: '127.0.0.1' })).status).toBe(200);
  });

  it('sends hello, events with a face crop only when snapshots are on, and the board every tick', async () => {
    for (const snapshots of [true, false]) {
      const { live, port } = await serve({ snapshots });
      const sse = openEvents(port);
      cleanups.push(() => sse.close());
      await sse.opened;
      await waitUntil(() => sse.events.some((e) => e.event === 'hello'), 5000);
      const hello = sse.events.find((e) => e.event === 'hello')!.data;
      expect(hello).toMatchObject({
        cameras: ['door'],
        board: { model: { sha256: SHA }, gpio: { outputs: [{ name: 'relay', on: false }] } },
      });
      const event: TrackEvent = { type: 'new', before: null, after: track };
      live.events('door', [event]);
      live.frame('door', frame(1));
      live.events('door', [{ type: 'end', before: track, after: { ...track, end_time: 2 } }]);
      await waitUntil(() => sse.events.filter((e) => e.event === 'event').length === 2, 5000);
      const [created, ended] = sse.events.filter((e) => e.event === 'event').map((e) => e.data);
      expect(created).toMatchObject({ type: 'new', camera: 'door', track: { id: 'door-7', class: 'male' } });
      expect(ended).toMatchObject({ type: 'end', track: { id: 'door-7' } });
      expect(ended.crop).toBeUndefined();
      if (snapshots) {
        expect(created.crop).toMatch(/^data:image\/jpeg;base64,/);
        const crop = await sharp(Buffer.from(created.crop.split(',')[1], 'base64')).metadata();
        expect([crop.width, crop.height]).toEqual([96, 96]);
      } else {
        expect(created.crop).toBeUndefined();
      }
      await waitUntil(() => sse.events.some((e) => e.event === 'board'), 5000);
      sse.close();
    }
  });
});

describe('slow clients', () => {
  let server: Server | null = null;
  afterEach(
    () =>
      new Promise<void>((resolve) =>
        server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve(),
      ),
  );

  /** A server whose one response is handed to `use`, and a client socket that asked for it and never reads. */
  async function stalledClient<T>(
    use: (res: import('node:http').ServerResponse) => T,
  ): Promise<{ handle: T; socket: Socket }> {
    let resolveHandle: (h: T) => void;
    const handle = new Promise<T>((r) => (resolveHandle = r));
    server = createServer((_req, res) => resolveHandle(use(res)));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    socket.pause();
    return { handle: await handle, socket };
  }

  it('an MJPEG viewer that stops reading is dropped pictures, never buffered more than about one', async () => {
    const { handle: viewer, socket } = await stalledClient((res) => new MjpegResponse(res));
    const size = 256 * 1024;
    const pushes = 300; // 75 MB: far more than the kernel's socket buffers hold
    let maxBuffered = 0;
    for (let seq = 0; seq < pushes; seq++) {
      viewer.push({ jpeg: Buffer.alloc(size, seq % 256), seq, wallTimeMs: 0, faces: 0, tracksJson: '[]' });
      maxBuffered = Math.max(maxBuffered, viewer.bufferedBytes);
      await new Promise((r) => setImmediate(r));
    }
    expect(viewer.dropped).toBeGreaterThan(pushes / 2);
    expect(viewer.sent + viewer.dropped).toBeLessThanOrEqual(pushes);
    expect(maxBuffered).toBeLessThan(2 * size + 1024);
    // Once it reads again it gets the newest picture, whole.
    let received = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => (received = Buffer.concat([received, c])));
    socket.resume();
    await waitUntil(() => received.includes(`x-frame-seq: ${pushes - 1}\r\n`), 10_000);
    socket.destroy();
  });

  it('a page that stops reading its event stream is cut off (its EventSource reconnects)', async () => {
    const { handle: stream, socket } = await stalledClient(
      (res) => new SseStream(res, { maxBufferedBytes: 64 * 1024 }),
    );
    const payload = { text: 'x'.repeat(10_000) };
    for (let i = 0; i < 5000 && !stream.closed; i++) {
      stream.send('event', payload);
      await new Promise((r) => setImmediate(r));
    }
    expect(stream.closed).toBe(true);
    socket.destroy();
  });
});
