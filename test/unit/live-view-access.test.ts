import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { isLoopbackAddress, liveViewAccess, parseBasicAuth } from '../../src/live-view/live-view-access.js';

/** The two things liveViewAccess reads from a request. */
function request(remoteAddress: string, authorization?: string): IncomingMessage {
  return {
    headers: authorization === undefined ? {} : { authorization },
    socket: { remoteAddress },
  } as unknown as IncomingMessage;
}
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('live view access', () => {
  it('knows loopback addresses in every spelling and nothing else', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of [
      '10.0.0.5',
      '192.168.1.20',
      '::ffff:192.168.1.20',
      'fe80::1',
      '128.0.0.1',
      '1127.0.0.1',
      '',
      undefined,
    ])
      expect(isLoopbackAddress(a), String(a)).toBe(false);
  });

  it('parses Basic credentials, including a password with colons, and refuses malformed headers', () => {
    expect(parseBasicAuth(basic('viewer', 'pa:ss:word'))).toEqual({ username: 'viewer', password: 'pa:ss:word' });
    expect(parseBasicAuth('basic ' + Buffer.from('a:').toString('base64'))).toEqual({ username: 'a', password: '' });
    expect(parseBasicAuth(undefined)).toBeNull();
    expect(parseBasicAuth('Bearer abc')).toBeNull();
    expect(parseBasicAuth('Basic ' + Buffer.from('no-colon').toString('base64'))).toBeNull();
    expect(parseBasicAuth('Basic !!!')).toBeNull();
  });

  it('without http.auth: loopback clients in, others 403 with a hint', () => {
    expect(liveViewAccess(request('127.0.0.1'), undefined)).toEqual({ allowed: true });
    expect(liveViewAccess(request('::1'), undefined)).toEqual({ allowed: true });
    const lan = liveViewAccess(request('192.168.1.20'), undefined);
    expect(lan).toMatchObject({ allowed: false, status: 403 });
    expect(lan.allowed === false && lan.message).toContain('http.auth');
    // Credentials do not open the view when none are configured.
    expect(liveViewAccess(request('192.168.1.20', basic('a', 'b')), undefined)).toMatchObject({
      allowed: false,
      status: 403,
    });
  });

  it('with http.auth: exactly the right user and password, from anywhere (loopback included)', () => {
    const auth = { username: 'viewer', password: 's3cret' };
    expect(liveViewAccess(request('192.168.1.20', basic('viewer', 's3cret')), auth)).toEqual({ allowed: true });
    for (const [address, header] of [
      ['127.0.0.1', undefined],
      ['192.168.1.20', undefined],
      ['192.168.1.20', basic('viewer', 's3cret!')],
      ['192.168.1.20', basic('viewer', 's3cre')],
      ['192.168.1.20', basic('Viewer', 's3cret')],
      ['192.168.1.20', basic('', '')],
      ['192.168.1.20', 'Basic garbage'],
    ] as const) {
      const decision = liveViewAccess(request(address, header), auth);
      expect(decision, `${address} ${header}`).toMatchObject({ allowed: false, status: 401 });
      expect(decision.allowed === false && decision.headers['www-authenticate']).toMatch(
        /^Basic realm="faceedge live view"/,
      );
    }
  });
});
