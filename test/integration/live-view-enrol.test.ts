/**
 * "Enrol this tracked face" from the live view over real HTTP (HealthServer + LiveViewRoutes, the real
 * detector and embedder, a real encrypted gallery): without http.auth → 403; without credentials → 401;
 * another site's Origin → 403; no CSRF token or a token of another session → 403; a good request enrols the
 * tracked face from the camera's latest frame (the gallery file changes), is audited with the name, and
 * leaves no picture on disk.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/capture/decode-image.js';
import type { Frame } from '../../src/capture/frame.js';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { FaceEmbedder } from '../../src/inference/face-embedder.js';
import { LiveEnrolment, CSRF_HEADER } from '../../src/live-view/live-enrolment.js';
import { LiveViewRoutes } from '../../src/live-view/live-view-routes.js';
import { LiveView } from '../../src/live-view/live-view.js';
import type { AuditEntry } from '../../src/mqtt/audit-trail.js';
import type { RequestOrigin } from '../../src/mqtt/request-origins.js';
import { HealthServer } from '../../src/observability/health-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { DaemonMetrics } from '../../src/observability/metrics.js';
import type { VisibleTrack } from '../../src/pipeline/face-tracker.js';
import { BoardGallery } from '../../src/recognition/board-gallery.js';
import type { GalleryContents } from '../../src/recognition/gallery-contents.js';
import { readGalleryKey, writeGalleryKey } from '../../src/recognition/gallery-key.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const EMBEDDER = join(REPO_ROOT, 'models/face-embed/faceedge-face-embed_int8.tflite');
const ANNA = '/work/shared/data/faces-dev/test/female/10001_191146.jpg';
const missing = !existsSync(EMBEDDER)
  ? `the embedder ${EMBEDDER} is absent`
  : !existsSync(ANNA)
    ? `the faces-dev photo ${ANNA} is absent`
    : null;
const AUTH = { username: 'installer', password: 'door-secret' };
const basic = (a = AUTH) => `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, any>;
}

function call(port: number, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Record<string, any> = {};
        try {
          parsed = JSON.parse(text) as Record<string, any>;
        } catch {
          parsed = { text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe.skipIf(missing !== null)(
  `live view: enrol this tracked face (${missing ?? 'real HTTP'})`,
  { timeout: 120_000 },
  () => {
    let dir: string;
    let galleryPath: string;
    let detector: FaceDetector;
    let embedder: FaceEmbedder;
    let track: VisibleTrack;
    let frame: Frame;
    const audits: { origin: RequestOrigin; entry: AuditEntry }[] = [];
    const changes: GalleryContents[] = [];
    const servers: { stop(): Promise<void> }[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'faceedge-live-enrol-'));
      galleryPath = join(dir, 'state', 'faces.gallery');
      mkdirSync(join(dir, 'state'), { mode: 0o700 });
      await writeGalleryKey(join(dir, 'gallery.key'));
      detector = await FaceDetector.create({ model: 'short' });
      embedder = await FaceEmbedder.create({ modelPath: EMBEDDER });
      const image = await decodeImage(readFileSync(ANNA), ANNA);
      frame = { seq: 1, timestampMs: 0, wallTimeMs: Date.now(), image };
      const [face] = await detector.detect(image);
      track = {
        id: 'door-7',
        camera: 'door',
        box: face.box,
        face_area: face.box.width * face.box.height,
        class: 'female',
        score: 0.9,
        top_score: 0.9,
        frames: 10,
        start_time: 1,
        end_time: null,
        model: 'faceedge-gender',
        confirmed: true,
      };
    });
    afterAll(async () => {
      for (const s of servers) await s.stop();
      await detector?.close();
      await embedder?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    async function serve(auth?: typeof AUTH, enrolUsers: readonly string[] = [AUTH.username]) {
      const gallery = new BoardGallery({
        path: galleryPath,
        key: await readGalleryKey(join(dir, 'gallery.key')),
        tools: () => Promise.resolve({ detector, embedder }),
        onChange: (c) => changes.push(c),
      });
      const camera = {
        name: 'door',
        frames: 1,
        paused: false,
        slot: { stats: () => ({ dropped: 0 }) },
        visibleTracks: () => [track],
      };
      const live = new LiveView({
        cameras: [camera],
        board: () => ({}) as never,
        labels: () => ['female', 'male'],
        snapshots: false,
        log: silentLogger(),
      });
      const enrolment = new LiveEnrolment({
        gallery,
        authConfigured: auth !== undefined,
        enrolUsers,
        tracks: (name) => (name === 'door' ? camera.visibleTracks() : undefined),
        audit: (origin, entry) => audits.push({ origin, entry }),
        log: silentLogger(),
      });
      enrolment.frame('door', frame);
      const routes = new LiveViewRoutes({ live, auth, log: silentLogger(), enrolment });
      const server = new HealthServer({
        host: '127.0.0.1',
        port: 0,
        metrics: new DaemonMetrics(),
        log: silentLogger(),
        routes: (req, res) => routes.handle(req, res),
        health: () => ({ started: true, broker_connected: true, last_frame_age_ms: {}, model: null }) as never,
      });
      await server.start();
      servers.push({ stop: async () => (await server.stop(), live.close()) });
      const port = server.port;
      const origin = `http://127.0.0.1:${port}`;
      /** A session: its cookie and token, as the page gets them. */
      const session = async () => {
        const r = await call(port, 'GET', '/live/enrol/session', { authorization: basic() });
        expect(r.status).toBe(200);
        const cookie = String(r.headers['set-cookie']).split(';')[0];
        expect(String(r.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
        return { cookie, token: r.body.token as string };
      };
      const enrol = (
        headers: Record<string, string>,
        body = { camera: 'door', track: 'door-7', name: 'Anna Example' },
      ) => call(port, 'POST', '/live/enrol', { 'content-type': 'application/json', ...headers }, JSON.stringify(body));
      return { port, origin, session, enrol };
    }

    const galleryBytes = () => (existsSync(galleryPath) ? readFileSync(galleryPath) : null);

    it('without http.auth the route refuses (403), even from loopback; without credentials 401', async () => {
      const open = await serve();
      const r = await open.enrol({ origin: open.origin });
      expect(r.status).toBe(403);
      expect(r.body.error).toMatch(/needs http\.auth/);
      const locked = await serve(AUTH);
      expect((await locked.enrol({ origin: locked.origin })).status).toBe(401);
      expect(
        (await locked.enrol({ origin: locked.origin, authorization: basic({ ...AUTH, password: 'x' }) })).status,
      ).toBe(401);
      expect(galleryBytes()).toBeNull();
    });

    it('refuses another site, a missing token and another session’s token (403), audited, nothing written', async () => {
      const s = await serve(AUTH);
      const a = await s.session();
      const b = await s.session();
      const good = { authorization: basic(), origin: s.origin, cookie: a.cookie, [CSRF_HEADER]: a.token };
      const cases: Record<string, string>[] = [
        { ...good, origin: 'http://evil.example' },
        { ...good, origin: s.origin, 'sec-fetch-site': 'cross-site' },
        (({ origin: _o, ...rest }) => rest)(good),
        (({ [CSRF_HEADER]: _t, ...rest }) => rest)(good),
        { ...good, [CSRF_HEADER]: b.token },
        (({ cookie: _c, ...rest }) => rest)(good),
      ];
      const from = audits.length;
      for (const headers of cases) {
        const r = await s.enrol(headers);
        expect(r.status, JSON.stringify(headers)).toBe(403);
        expect(r.body.code).toBe('REQUEST_FORBIDDEN');
      }
      expect(audits.slice(from).map((a) => a.entry.outcome)).toEqual(cases.map(() => 'refused'));
      expect(galleryBytes()).toBeNull();
      // Not JSON: an HTML form's post cannot get through either.
      const form = await call(
        s.port,
        'POST',
        '/live/enrol',
        { ...good, 'content-type': 'application/x-www-form-urlencoded' },
        'name=x',
      );
      expect(form.status).toBe(415);
    });

    it('the session route tells the page whether this login may enrol (the page shows the button on enrol: true only)', async () => {
      const sessionOf = async (port: number, headers: Record<string, string>) => {
        const r = await call(port, 'GET', '/live/enrol/session', headers);
        return [r.status, r.body.enrol, r.headers['set-cookie'] === undefined ? 'no cookie' : 'cookie'];
      };
      const listed = await serve(AUTH);
      expect(await sessionOf(listed.port, { authorization: basic() })).toEqual([200, true, 'cookie']);
      const unlisted = await serve(AUTH, []);
      expect(await sessionOf(unlisted.port, { authorization: basic() })).toEqual([403, false, 'no cookie']);
      const open = await serve();
      expect(await sessionOf(open.port, {})).toEqual([403, false, 'no cookie']);
    });

    it('a login not in http.enrol_users may watch but not enrol (403, audited, nothing written)', async () => {
      const s = await serve(AUTH, []);
      const from = audits.length;
      // No session is handed to it; a request made without one is refused for the login first.
      const r = await s.enrol({ authorization: basic(), origin: s.origin });
      expect(r.status).toBe(403);
      expect(r.body.error).toMatch(/http\.enrol_users/);
      expect(audits.slice(from).map((a) => [a.entry.target, a.entry.outcome])).toEqual([['gallery', 'refused']]);
      expect(galleryBytes()).toBeNull();
    });

    it('audits only validated text: a refused name is not recorded, a long Origin is escaped and cut', async () => {
      const s = await serve(AUTH);
      const { cookie, token } = await s.session();
      const good = { authorization: basic(), origin: s.origin, cookie, [CSRF_HEADER]: token };
      const forged = `${'x'.repeat(900)}","outcome":"accepted`;
      const from = audits.length;
      const bad = await s.enrol(good, { camera: 'door', track: 'door-7', name: forged });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('GALLERY_NAME_INVALID');
      const longTrack = await s.enrol(good, { camera: 'door', track: 't'.repeat(500), name: 'Bea' });
      expect(longTrack.status).toBe(400);
      const evil = `http://evil.example/${'a'.repeat(3000)}`;
      expect((await s.enrol({ ...good, origin: evil })).status).toBe(403);
      const recorded = audits.slice(from);
      expect(recorded.map((a) => [a.entry.target, a.entry.outcome])).toEqual([
        ['gallery', 'refused'],
        ['gallery', 'refused'],
        ['gallery', 'refused'],
      ]);
      for (const { entry } of recorded) {
        const text = JSON.stringify(entry);
        expect(text).not.toContain('xxxxxxxx');
        expect(text).not.toContain('tttttttt');
        expect(text.length).toBeLessThan(400);
      }
      expect(String(recorded[2].entry.detail?.reason)).toMatch(/another site \("http:\/\/evil\.example\/a+…\)$/);
      expect(galleryBytes()).toBeNull();
    });

    it('a good request enrols the tracked face: the gallery file changes, audited with the name, no picture on disk', async () => {
      const s = await serve(AUTH);
      const { cookie, token } = await s.session();
      const from = audits.length;
      const r = await s.enrol({ authorization: basic(), origin: s.origin, cookie, [CSRF_HEADER]: token });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ name: 'Anna Example', used: 1, embeddings: 1, version: 1 });
      expect(r.body.photos[0]).toMatchObject({ photo: 'track door-7', usable: true });
      expect(galleryBytes()).not.toBeNull();
      expect(changes.at(-1)?.people.map((p) => p.name)).toEqual(['Anna Example']);
      expect(audits.slice(from)).toEqual([
        {
          origin: {
            who: { client_id: expect.stringMatching(/^http 127\.0\.0\.1|^http ::ffff:127/), username: 'installer' },
            via: 'live view (http.auth)',
          },
          entry: expect.objectContaining({ action: 'live/enrol', target: 'Anna Example', outcome: 'accepted' }),
        },
      ]);
      // Only the gallery (and its lock) was written: no picture anywhere.
      expect(readdirSync(join(dir, 'state')).filter((n) => !n.startsWith('faces.gallery'))).toEqual([]);
      // A track that is not in view is a clear 400, not an enrolment of someone else.
      const gone = await s.enrol(
        { authorization: basic(), origin: s.origin, cookie, [CSRF_HEADER]: token },
        { camera: 'door', track: 'door-99', name: 'Bea' },
      );
      expect(gone.status).toBe(400);
      expect(gone.body.error).toMatch(/not in view/);
    });
  },
);
