/**
 * The live view's HTTP routes, served by the daemon's HTTP server next to `/healthz` and `/metrics`:
 *
 *   GET /live/                               the page (static files from `web/live-view/`, no build step)
 *   GET /live/events                         Server-Sent Events: `hello`, then `event` and `board`
 *   GET /live/state                          the board state and recent events, JSON
 *   GET /live/cameras/<camera>/stream.mjpeg  picture stream (multipart/x-mixed-replace), each part with its
 *                                            tracked faces in the `x-faceedge-tracks` header
 *   GET /live/cameras/<camera>/frame.jpg     one picture, the same header
 *   GET /favicon.ico                         the page's icon (what browsers ask for; no credentials needed)
 *
 *   GET /live/enrol/session, POST /live/enrol  "enrol this tracked face" (live-enrolment.ts: http.auth,
 *                                            same origin and a CSRF token required)
 *
 * Every /live route goes through liveViewAccess first (HTTP Basic with `http.auth`, else loopback only).
 * Every route is GET or HEAD except the enrolment (POST), the one route that changes the board.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { packageRoot } from '../inference/shipped-model.js';
import { liveViewAccess, type BasicAuthCredentials } from './live-view-access.js';
import type { LiveEnrolment } from './live-enrolment.js';
import type { LiveView } from './live-view.js';
import { MjpegResponse, TRACKS_HEADER } from './mjpeg-response.js';
import type { OverlayPicture } from './overlay-feed.js';
import { SseStream } from './sse-stream.js';

/** Folder of the page's files in the package. */
export function liveViewStaticDir(): string {
  return join(packageRoot(), 'web', 'live-view');
}

/**
 * The page's files: URL name → content type. Anything else under /live/ is 404. A Map, not an object
 * literal: `name in {…}` is also true for `constructor`, `__proto__` or `toString`, inherited names
 * that are no file.
 */
const STATIC_FILES: ReadonlyMap<string, string> = new Map([
  ['index.html', 'text/html; charset=utf-8'],
  ['live-view.js', 'text/javascript; charset=utf-8'],
  ['live-view.css', 'text/css; charset=utf-8'],
  ['favicon.svg', 'image/svg+xml'],
]);

/** The icon at the site root, where browsers look for it: favicon.svg drawn at 32 px, as PNG in an ICO file. */
const ROOT_ICON = { path: '/favicon.ico', file: 'favicon.ico', type: 'image/x-icon' } as const;

/** Sent with every live-view answer: no caching of camera pictures, nothing loaded from elsewhere. */
const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
};

/** How long `frame.jpg` waits for a picture when nobody was watching, ms. */
const SINGLE_PICTURE_WAIT_MS = 3000;

export interface LiveViewRoutesOptions {
  readonly live: LiveView;
  /** `http.auth`; absent = loopback clients only. */
  readonly auth?: BasicAuthCredentials;
  readonly log: Logger;
  /** "Enrol this tracked face"; absent: its routes are 404. */
  readonly enrolment?: LiveEnrolment;
  /** Where the page's files are. Default {@link liveViewStaticDir}. */
  readonly staticDir?: string;
}

export class LiveViewRoutes {
  readonly #o: LiveViewRoutesOptions;

  constructor(options: LiveViewRoutesOptions) {
    this.#o = options;
  }

  /** Answers `req` when its path belongs to the live view and returns true; false for any other path. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    // The icon says nothing about the board; browsers fetch it on their own, so it never asks for a password.
    if (path === ROOT_ICON.path && (req.method === 'GET' || req.method === 'HEAD')) {
      await this.#file(req, res, ROOT_ICON.file, ROOT_ICON.type, 'public, max-age=86400');
      return true;
    }
    if (path !== '/live' && !path.startsWith('/live/')) return false;
    const access = liveViewAccess(req, this.#o.auth);
    if (!access.allowed) {
      res
        .writeHead(access.status, { ...COMMON_HEADERS, ...access.headers, 'content-type': 'text/plain; charset=utf-8' })
        .end(access.message);
      if (access.status === 403)
        this.#o.log.debug({ remote: req.socket.remoteAddress }, 'live view refused to a non-loopback client');
      return true;
    }
    const enrolment = this.#o.enrolment;
    if (enrolment && path === '/live/enrol' && req.method === 'POST') {
      await enrolment.enrol(req, res, COMMON_HEADERS);
      return true;
    }
    if (enrolment && path === '/live/enrol/session' && req.method === 'GET') {
      enrolment.session(req, res, COMMON_HEADERS);
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { ...COMMON_HEADERS, allow: 'GET, HEAD', 'content-type': 'text/plain' })
        .end('method not allowed: the live view only shows\n');
      return true;
    }
    if (path === '/live') {
      res.writeHead(301, { ...COMMON_HEADERS, location: '/live/' }).end();
      return true;
    }
    const rest = path.slice('/live/'.length);
    const camera = /^cameras\/([A-Za-z0-9_-]+)\/(stream\.mjpeg|frame\.jpg)$/.exec(rest);
    if (rest === '' || STATIC_FILES.has(rest)) await this.#static(req, res, rest === '' ? 'index.html' : rest);
    else if (rest === 'events') this.#events(req, res);
    else if (rest === 'state')
      this.#json(req, res, { board: this.#o.live.state(), events: this.#o.live.recentEvents() });
    else if (camera && this.#o.live.feed(camera[1])) {
      if (camera[2] === 'stream.mjpeg') this.#stream(req, res, camera[1]);
      else await this.#picture(req, res, camera[1]);
    } else
      res
        .writeHead(404, { ...COMMON_HEADERS, 'content-type': 'text/plain' })
        .end('not found; the live view is at /live/\n');
    return true;
  }

  #static(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    return this.#file(req, res, name, STATIC_FILES.get(name)!);
  }

  async #file(req: IncomingMessage, res: ServerResponse, name: string, type: string, cache?: string): Promise<void> {
    const body = await readFile(join(this.#o.staticDir ?? liveViewStaticDir(), name));
    res.writeHead(200, {
      ...COMMON_HEADERS,
      ...(cache ? { 'cache-control': cache } : {}),
      'content-type': type,
      'content-length': body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  #json(req: IncomingMessage, res: ServerResponse, value: unknown): void {
    const body = JSON.stringify(value);
    res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'application/json' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  #events(req: IncomingMessage, res: ServerResponse): void {
    for (const [name, value] of Object.entries(COMMON_HEADERS)) res.setHeader(name, value);
    if (req.method === 'HEAD') return void res.writeHead(200, { 'content-type': 'text/event-stream' }).end();
    this.#o.live.attach(new SseStream(res));
  }

  #stream(req: IncomingMessage, res: ServerResponse, camera: string): void {
    const feed = this.#o.live.feed(camera)!;
    for (const [name, value] of Object.entries(COMMON_HEADERS)) res.setHeader(name, value);
    const viewer = new MjpegResponse(res);
    if (req.method === 'HEAD') return void res.end();
    // The last picture at once (a paused camera still shows its last view), then every new one.
    if (feed.latest) viewer.push(feed.latest);
    const unsubscribe = feed.subscribe((picture) => viewer.push(picture));
    res.on('close', unsubscribe);
  }

  async #picture(req: IncomingMessage, res: ServerResponse, camera: string): Promise<void> {
    const feed = this.#o.live.feed(camera)!;
    // A fresh picture: subscribing makes the feed encode the next processed frame.
    const picture = await new Promise<OverlayPicture | null>((resolve) => {
      const timer = setTimeout(() => done(feed.latest), SINGLE_PICTURE_WAIT_MS);
      const unsubscribe = feed.subscribe((p) => done(p));
      const done = (p: OverlayPicture | null) => {
        clearTimeout(timer);
        unsubscribe();
        resolve(p);
      };
    });
    if (!picture) {
      res
        .writeHead(503, { ...COMMON_HEADERS, 'content-type': 'text/plain', 'retry-after': '1' })
        .end(`camera ${camera} has no picture yet\n`);
      return;
    }
    res.writeHead(200, {
      ...COMMON_HEADERS,
      'content-type': 'image/jpeg',
      'content-length': picture.jpeg.length,
      'x-frame-seq': String(picture.seq),
      [TRACKS_HEADER]: picture.tracksJson,
    });
    res.end(req.method === 'HEAD' ? undefined : picture.jpeg);
  }
}
