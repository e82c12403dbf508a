/**
 * Who may see the live view. With `http.auth` set, every live-view request must carry those HTTP Basic
 * credentials (a browser asks for them natively); they are compared in constant time. Without it only
 * loopback clients are answered, so a board on a LAN does not show its cameras to whoever asks.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** `http.auth` of the configuration. */
export interface BasicAuthCredentials {
  readonly username: string;
  readonly password: string;
}

/** The answer for a request: allowed, or the status, headers and text to refuse it with. */
export type AccessDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly status: 401 | 403;
      readonly headers: Record<string, string>;
      readonly message: string;
    };

/** Realm shown by the browser's credentials dialog. */
export const LIVE_VIEW_REALM = 'faceedge live view';

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped IPv6 spellings. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** sha256 of both sides first: timingSafeEqual needs equal lengths, and the digest hides the real length. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The user name and password of an `Authorization: Basic …` header, or null when absent or malformed. */
export function parseBasicAuth(header: string | undefined): BasicAuthCredentials | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Decides whether `req` may see the live view under `auth` (the configured `http.auth`, if any). */
export function liveViewAccess(req: IncomingMessage, auth: BasicAuthCredentials | undefined): AccessDecision {
  if (auth) {
    const given = parseBasicAuth(req.headers.authorization);
    // Both comparisons always run, so the time taken does not say which one failed.
    const userOk = sameSecret(given?.username ?? '', auth.username);
    const passwordOk = sameSecret(given?.password ?? '', auth.password);
    if (given && userOk && passwordOk) return { allowed: true };
    return {
      allowed: false,
      status: 401,
      headers: { 'www-authenticate': `Basic realm="${LIVE_VIEW_REALM}", charset="UTF-8"` },
      message: 'the live view needs the user name and password of http.auth\n',
    };
  }
  if (isLoopbackAddress(req.socket.remoteAddress)) return { allowed: true };
  return {
    allowed: false,
    status: 403,
    headers: {},
    message:
      'the live view answers only clients on this board (loopback) while http.auth is not set.\n' +
      'Set http.auth: { username, password } in the configuration to open it to the network,\n' +
      'or reach it through an SSH tunnel: ssh -L 9464:127.0.0.1:9464 <board>, then http://127.0.0.1:9464/live/\n',
  };
}
