import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../src/mqtt/loopback-host.js';
import { MAX_PENDING_PUBLISHERS, PUBLISHER_TTL_MS, PublisherLedger } from '../../src/mqtt/request-origins.js';

const A = { client_id: 'operator-a', username: 'op' };
const B = { client_id: 'operator-b', username: 'op' };
const TOPIC = 'faceedge/pi/bridge/request/options';

describe('the publisher ledger of the embedded broker', () => {
  it('credits each request to the client that sent those bytes, whatever order they are taken in', () => {
    const ledger = new PublisherLedger();
    ledger.record(TOPIC, Buffer.from('{"transaction":1}'), A);
    ledger.record(TOPIC, Buffer.from('{"transaction":2}'), B);
    expect(ledger.take(TOPIC, Buffer.from('{"transaction":2}'))).toEqual({ who: B, via: 'embedded broker' });
    expect(ledger.take(TOPIC, Buffer.from('{"transaction":1}'))).toEqual({ who: A, via: 'embedded broker' });
    // Taken once: a replay of the same bytes is not credited to anyone.
    expect(ledger.take(TOPIC, Buffer.from('{"transaction":1}')).who).toBeNull();
    expect(ledger.pending).toBe(0);
  });

  it('keeps the topic in the key, and credits identical requests in the order the broker received them', () => {
    const ledger = new PublisherLedger();
    const body = Buffer.from('ON');
    ledger.record('faceedge/pi/gpio/relay/set', body, A);
    ledger.record('faceedge/pi/gpio/relay/set', body, B);
    expect(ledger.take('faceedge/pi/gpio/lamp/set', body).who).toBeNull();
    expect(ledger.take('faceedge/pi/gpio/relay/set', body).who).toEqual(A);
    expect(ledger.take('faceedge/pi/gpio/relay/set', body).who).toEqual(B);
  });

  it('forgets a publisher after its time to live, and keeps at most MAX_PENDING_PUBLISHERS', () => {
    let now = 1000;
    const ledger = new PublisherLedger(() => now);
    ledger.record(TOPIC, Buffer.from('x'), A);
    now += PUBLISHER_TTL_MS;
    expect(ledger.take(TOPIC, Buffer.from('x'))).toEqual({
      who: null,
      via: 'embedded broker (publisher not recorded)',
    });
    for (let i = 0; i <= MAX_PENDING_PUBLISHERS; i++) ledger.record(TOPIC, Buffer.from(String(i)), A);
    expect(ledger.pending).toBe(MAX_PENDING_PUBLISHERS);
    expect(ledger.take(TOPIC, Buffer.from('0')).who).toBeNull();
    expect(ledger.take(TOPIC, Buffer.from(String(MAX_PENDING_PUBLISHERS))).who).toEqual(A);
  });
});

describe('loopback hosts', () => {
  it('counts 127.0.0.0/8, ::1 (any spelling) and localhost as loopback, nothing else', () => {
    for (const host of [
      '127.0.0.1',
      '127.1.2.3',
      'localhost',
      'LOCALHOST',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
    ])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of [
      '0.0.0.0',
      '::',
      '192.168.1.20',
      '10.0.0.1',
      'broker.lan',
      '::2',
      '::ffff:10.0.0.1',
      '128.0.0.1',
    ])
      expect(isLoopbackHost(host), host).toBe(false);
  });
});
