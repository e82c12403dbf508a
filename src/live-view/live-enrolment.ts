/**
 * "Enrol this tracked face" from the live view (issue 23 §2), the one live-view route that changes the board:
 *
 *   GET  /live/enrol/session   a session cookie (HttpOnly, SameSite=Strict) and its CSRF token, JSON
 *   POST /live/enrol           {"camera": "door", "track": "door-7", "name": "Alice"} → the enrolment, JSON
 *
 * Refused unless every one of these holds, so that a page elsewhere cannot make a logged-in browser enrol a
 * face (cross-site request forgery) and nobody can without the board's password:
 * - `http.auth` is set (403 otherwise: loopback-only access is fine for watching, not for changing who opens
 *   the door) and the request carries its credentials (401, checked by the live view's access rule first);
 * - the user is in `http.enrol_users` (403 otherwise; none listed, the default: enrolling is off), since
 *   watching the live view and adding a face that opens the lock are not the same trust;
 * - `Origin` is present and names the host the request was sent to (`Host`), and `Sec-Fetch-Site`, when the
 *   browser sends it, is `same-origin` (403);
 * - the `x-faceedge-csrf` header holds the token of the request's session cookie (403): an HMAC of the
 *   session id under a key drawn when the daemon started, compared in constant time;
 * - the body is JSON of at most {@link MAX_ENROL_BODY_BYTES} (413/415/400).
 *
 * The face is cut from the camera's latest processed frame (the track's box with a margin), detected again
 * and embedded in memory; the picture is dropped after, never stored. Every attempt past authentication is
 * audited (who: the http.auth user and the client's address; what: the name and the track, never pixels).
 * The audit records only what was validated (a name that passed validPersonName, a camera and a track id
 * bounded to {@link MAX_ID_LENGTH}); header text an attacker chose (`Origin`) is recorded escaped and cut to
 * {@link MAX_AUDITED_HEADER_CHARS}, so a request cannot forge or flood audit lines.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Frame, RgbImage } from '../capture/frame.js';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import type { AuditEntry } from '../mqtt/audit-trail.js';
import type { RequestOrigin } from '../mqtt/request-origins.js';
import type { VisibleTrack } from '../pipeline/face-tracker.js';
import type { BoardGallery } from '../recognition/board-gallery.js';
import { validPersonName } from '../recognition/gallery-person.js';
import { framePixels } from './frame-pixels.js';
import { parseBasicAuth } from './live-view-access.js';

/** Why a login not listed in `http.enrol_users` is refused. */
const NOT_AN_ENROL_USER = 'this login may watch but not enrol: it is not in http.enrol_users';
/** Largest accepted request body, bytes. */
export const MAX_ENROL_BODY_BYTES = 4096;
/** The session cookie's name. */
export const ENROL_SESSION_COOKIE = 'faceedge_session';
/** The header that carries the CSRF token. */
export const CSRF_HEADER = 'x-faceedge-csrf';
/** Longest camera name or track id accepted in a request, characters. */
const MAX_ID_LENGTH = 64;
/** Longest piece of a request header recorded in the audit, characters (JSON-escaped, then cut). */
export const MAX_AUDITED_HEADER_CHARS = 120;
/** Margin added around a track's box on each side, as a share of its larger side: the detector needs context. */
const CROP_MARGIN = 0.6;

export interface LiveEnrolmentOptions {
  /** The board's gallery; null while recognition is off (the route then says so). */
  readonly gallery: BoardGallery | null;
  /** Whether `http.auth` is set: without it the route refuses everything. */
  readonly authConfigured: boolean;
  /** `http.enrol_users`: the logins allowed to enrol; empty: enrolling from the live view is off. */
  readonly enrolUsers: readonly string[];
  /** The tracks `camera` shows now; undefined for an unknown camera. */
  readonly tracks: (camera: string) => readonly VisibleTrack[] | undefined;
  /** Records an audit entry (AuditTrail.record). */
  readonly audit: (origin: RequestOrigin, entry: AuditEntry) => void;
  readonly log: Logger;
}

type Answer = { status: number; body: Record<string, unknown> };

export class LiveEnrolment {
  readonly #o: LiveEnrolmentOptions;
  readonly #key = randomBytes(32);
  readonly #latest = new Map<string, Frame>();

  constructor(options: LiveEnrolmentOptions) {
    this.#o = options;
  }

  /** The latest processed frame of `camera` (kept by reference: a crop is cut only when asked). */
  frame(camera: string, frame: Frame): void {
    this.#latest.set(camera, frame);
  }

  /**
   * Answers `GET /live/enrol/session` (the caller has checked the live view's access): for a login that may
   * enrol, a session cookie and `{enrol: true, token, header}`; otherwise 403 `{enrol: false, error}` and no
   * cookie. The page asks this once at load and shows "enrol this face" only on `enrol: true`.
   */
  session(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): void {
    const refused = this.#mayNotEnrol(parseBasicAuth(req.headers.authorization)?.username ?? null);
    if (refused) return answer(res, headers, { status: 403, body: { ...refused.body, enrol: false } });
    const id = randomBytes(24).toString('base64url');
    res.setHeader('set-cookie', `${ENROL_SESSION_COOKIE}=${id}; Path=/live/; HttpOnly; SameSite=Strict; Max-Age=43200`);
    answer(res, headers, { status: 200, body: { enrol: true, token: this.#token(id), header: CSRF_HEADER } });
  }

  /** Why `username` may not enrol from the live view (no http.auth, not in http.enrol_users, recognition off), or null. */
  #mayNotEnrol(username: string | null): Answer | null {
    if (!this.#o.authConfigured) return refusedWithoutAuth();
    if (!this.#o.enrolUsers.includes(username ?? ''))
      return { status: 403, body: { code: 'REQUEST_FORBIDDEN', error: NOT_AN_ENROL_USER } };
    if (!this.#o.gallery)
      return { status: 403, body: { code: 'REQUEST_FORBIDDEN', error: 'recognition is off on this board' } };
    return null;
  }

  /** Answers `POST /live/enrol` (the caller has checked the live view's access: credentials when configured). */
  async enrol(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): Promise<void> {
    if (!this.#o.authConfigured) return answer(res, headers, refusedWithoutAuth());
    const origin: RequestOrigin = {
      who: {
        client_id: `http ${req.socket.remoteAddress ?? '?'}`,
        username: parseBasicAuth(req.headers.authorization)?.username ?? null,
      },
      via: 'live view (http.auth)',
    };
    if (!this.#o.enrolUsers.includes(origin.who?.username ?? '')) {
      const reason = NOT_AN_ENROL_USER;
      this.#o.audit(origin, { action: 'live/enrol', target: 'gallery', outcome: 'refused', detail: { reason } });
      return answer(res, headers, { status: 403, body: { code: 'REQUEST_FORBIDDEN', error: reason } });
    }
    const forgery = this.#forgery(req);
    if (forgery) {
      this.#o.audit(origin, {
        action: 'live/enrol',
        target: 'gallery',
        outcome: 'refused',
        detail: { reason: forgery },
      });
      return answer(res, headers, { status: 403, body: { code: 'REQUEST_FORBIDDEN', error: forgery } });
    }
    let target = 'gallery';
    try {
      const request = parseEnrolBody(await readBody(req));
      target = request.name;
      const outcome = await this.#enrolTrack(request);
      this.#o.audit(origin, {
        action: 'live/enrol',
        target: outcome.name,
        outcome: 'accepted',
        detail: { camera: request.camera, track: request.track, version: outcome.version },
      });
      answer(res, headers, { status: 200, body: { ...outcome } });
    } catch (err) {
      if (!isFaceedgeError(err)) {
        this.#o.log.error({ err }, 'live enrolment failed');
        this.#o.audit(origin, { action: 'live/enrol', target, outcome: 'failed', detail: { code: 'INTERNAL' } });
        return answer(res, headers, { status: 500, body: { code: 'INTERNAL', error: 'the enrolment failed' } });
      }
      const status = err instanceof BodyRefused ? err.status : 400;
      this.#o.audit(origin, {
        action: 'live/enrol',
        target,
        outcome: 'refused',
        detail: { code: err.code, error: err.message },
      });
      answer(res, headers, { status, body: { code: err.code, error: err.message } });
    }
  }

  /** Why `req` may be a cross-site forgery, or null when it is not. */
  #forgery(req: IncomingMessage): string | null {
    const host = req.headers.host;
    const originHeader = req.headers.origin;
    if (!originHeader || !host) return 'the request has no Origin or Host header';
    let originHost: string;
    try {
      originHost = new URL(originHeader).host;
    } catch {
      return 'the Origin header is not a URL';
    }
    if (originHost !== host) return `the request comes from another site (${auditedText(originHeader)})`;
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin')
      return `the browser says the request is ${auditedText(String(site))}`;
    const session = cookie(req.headers.cookie, ENROL_SESSION_COOKIE);
    const token = req.headers[CSRF_HEADER];
    if (!session || typeof token !== 'string') return 'the request has no session or CSRF token';
    const expected = Buffer.from(this.#token(session));
    const given = Buffer.from(token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'the CSRF token is wrong';
    return null;
  }

  #token(session: string): string {
    return createHmac('sha256', this.#key).update(session).digest('base64url');
  }

  async #enrolTrack(request: EnrolRequest) {
    const gallery = this.#o.gallery;
    if (!gallery) throw new FaceedgeError('REQUEST_INVALID', 'recognition is off on this board: nothing to enrol into');
    const tracks = this.#o.tracks(request.camera);
    const frame = this.#latest.get(request.camera);
    if (!tracks || !frame) throw new FaceedgeError('REQUEST_INVALID', `camera ${request.camera} has no picture now`);
    const track = tracks.find((t) => t.id === request.track);
    if (!track) {
      throw new FaceedgeError('REQUEST_INVALID', `track ${request.track} is not in view on ${request.camera} now`, {
        hint: 'enrol a face while it is in view',
      });
    }
    const region = faceRegion(await framePixels(frame), track.box);
    return gallery.enrol(request.name, [{ origin: `track ${track.id}`, pixels: region }]);
  }
}

interface EnrolRequest {
  readonly camera: string;
  readonly track: string;
  readonly name: string;
}

function parseEnrolBody(text: string): EnrolRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FaceedgeError('REQUEST_INVALID', 'the body is not JSON');
  }
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const { camera, track, name } = v;
  if (typeof camera !== 'string' || typeof track !== 'string' || typeof name !== 'string')
    throw new FaceedgeError('REQUEST_INVALID', 'the body needs "camera", "track" and "name", strings');
  if (!isShortId(camera) || !isShortId(track))
    throw new FaceedgeError(
      'REQUEST_INVALID',
      `"camera" and "track" are 1–${MAX_ID_LENGTH} printable characters without spaces`,
    );
  // A refused name is not repeated: its error says only why (the attacker's text stays out of the audit).
  let valid: string;
  try {
    valid = validPersonName(name);
  } catch (err) {
    if (!isFaceedgeError(err)) throw err;
    throw new FaceedgeError(err.code, 'the name is not a valid name', { hint: err.hint });
  }
  return { camera, track, name: valid };
}

/** A camera name or track id as the board makes them: short, printable ASCII, no spaces. */
function isShortId(text: string): boolean {
  return text.length > 0 && text.length <= MAX_ID_LENGTH && /^[\x21-\x7e]+$/.test(text);
}

/** Header text fit for the audit: JSON-escaped (no control characters, no line breaks), then cut. */
function auditedText(text: string): string {
  const escaped = JSON.stringify(text);
  return escaped.length <= MAX_AUDITED_HEADER_CHARS ? escaped : `${escaped.slice(0, MAX_AUDITED_HEADER_CHARS)}…`;
}

/** A body refused before it is parsed, with its HTTP status (413 too large, 415 not JSON). */
class BodyRefused extends FaceedgeError {
  readonly status: number;

  constructor(status: 413 | 415, message: string) {
    super('REQUEST_INVALID', message);
    this.status = status;
  }
}

/**
 * The request body as text; 415 unless JSON (an HTML form cannot send it without a CORS preflight), 413
 * past the bound.
 */
async function readBody(req: IncomingMessage): Promise<string> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new BodyRefused(415, 'the body must be application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_ENROL_BODY_BYTES) throw new BodyRefused(413, `the body is over ${MAX_ENROL_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The track's box with a margin, clipped to the frame, as its own image (a copy: the frame is not kept). */
export function faceRegion(image: RgbImage, box: VisibleTrack['box']): RgbImage {
  const margin = CROP_MARGIN * Math.max(box.width, box.height);
  const left = Math.max(0, Math.floor(box.x - margin));
  const top = Math.max(0, Math.floor(box.y - margin));
  const right = Math.min(image.width, Math.ceil(box.x + box.width + margin));
  const bottom = Math.min(image.height, Math.ceil(box.y + box.height + margin));
  const width = Math.max(1, right - left);
  const height = Math.max(1, bottom - top);
  const data = Buffer.alloc(width * height * 3);
  for (let row = 0; row < height; row++) {
    const from = ((top + row) * image.width + left) * 3;
    image.data.copy(data, row * width * 3, from, from + width * 3);
  }
  return { kind: 'rgb', data, width, height };
}

function cookie(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

function refusedWithoutAuth(): Answer {
  return {
    status: 403,
    body: {
      code: 'REQUEST_FORBIDDEN',
      error: 'enrolling from the live view needs http.auth: set http.auth { username, password } in the configuration',
    },
  };
}

function answer(res: ServerResponse, headers: Record<string, string>, { status, body }: Answer): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(body));
}
