import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { redactUrl, redactUrlsIn, secretScrubber, urlPasswords } from '../../src/observability/redact-url.js';
import { BrokerConnection, MAX_REFUSED_RETRY_MS } from '../../src/mqtt/broker-connection.js';

describe('redactUrl', () => {
  it('masks the password and keeps the user, host, port and path', () => {
    expect(redactUrl('mqtts://cam:s3cret@broker.lan:8883')).toBe('mqtts://cam:***@broker.lan:8883');
    expect(redactUrl('rtsp://admin:p%40ss@10.0.0.5:554/h264')).toBe('rtsp://admin:***@10.0.0.5:554/h264');
    expect(redactUrl('rtsp+tcp://a:b@cam/x')).toBe('rtsp+tcp://a:***@cam/x');
  });

  it('masks an unencoded password containing @, / and :', () => {
    expect(redactUrl('mqtt://cam:p@ss/w:rd@broker:1883')).toBe('mqtt://cam:***@broker:1883');
    expect(redactUrl('mqtt://:onlypw@broker')).toBe('mqtt://:***@broker');
  });

  it('leaves URLs without a password as they are', () => {
    for (const url of ['mqtt://127.0.0.1:1883', 'rtsp://cam.lan/stream1', 'mqtt://user@broker', '/var/lib/x.mp4'])
      expect(redactUrl(url)).toBe(url);
  });

  it('masks every URL inside a text (a log line, ffmpeg stderr)', () => {
    const line = '{"url":"mqtt://u:aa@b:1","err":"rtsp://admin:bb@cam/s: Connection refused"}';
    expect(redactUrlsIn(line)).toBe('{"url":"mqtt://u:***@b:1","err":"rtsp://admin:***@cam/s: Connection refused"}');
  });

  it('finds both spellings of a percent-encoded password', () => {
    expect(urlPasswords('rtsp://admin:p%40ss@cam/s')).toEqual(['p%40ss', 'p@ss']);
    expect(urlPasswords('rtsp://cam/s')).toEqual([]);
  });
});

describe('secretScrubber', () => {
  it('removes configured secrets wherever they appear, JSON-escaped too, but not short ones', () => {
    const scrub = secretScrubber(['hunter2', 'a"b\\c', 'pw', undefined]);
    expect(scrub('{"err":"auth failed for hunter2"}')).toBe('{"err":"auth failed for ***"}');
    expect(scrub(JSON.stringify({ m: 'x a"b\\c y' }))).toBe('{"m":"x *** y"}');
    expect(scrub('pwd is fine')).toBe('pwd is fine');
  });
});

describe('BrokerConnection', () => {
  function refusal(code: number): Error {
    return Object.assign(new Error(`Connection refused: ${code === 5 ? 'Not authorized' : 'Server unavailable'}`), {
      code,
    });
  }

  it('backs refused logins off exponentially up to the cap, resets on connect; other errors keep the period', () => {
    const client = Object.assign(new EventEmitter(), { options: { reconnectPeriod: 200 } }) as unknown as MqttClient;
    const connection = new BrokerConnection({
      url: 'mqtt://b',
      reconnectPeriodMs: 200,
      log: silentLogger(),
      queued: () => 0,
    });
    connection.watch(client);
    const periods: number[] = [];
    for (let i = 0; i < 12; i++) {
      client.emit('error', refusal(5));
      periods.push(client.options.reconnectPeriod!);
    }
    expect(periods.slice(0, 5)).toEqual([200, 400, 800, 1600, 3200]);
    expect(Math.max(...periods)).toBe(MAX_REFUSED_RETRY_MS);
    expect(connection.problem).toMatchObject({ kind: 'login_refused', hint: expect.stringContaining('mqtt.password') });

    client.emit('connect', { cmd: 'connack', sessionPresent: false });
    expect(client.options.reconnectPeriod).toBe(200);
    expect(connection.problem).toBeNull();

    client.emit('error', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }));
    expect(client.options.reconnectPeriod).toBe(200);
    expect(connection.problem).toMatchObject({ kind: 'unreachable' });
    client.emit('error', refusal(3));
    expect(connection.problem).toMatchObject({ kind: 'refused' });
  });
});

describe('createLogger', () => {
  it('removes URL passwords and configured secrets from every line, child loggers and error messages included', () => {
    const lines: string[] = [];
    const log = createLogger({ destination: { write: (l: string) => void lines.push(l) }, secrets: ['hunter2-pw'] });
    const child = log.child({ component: 'camera' });
    child.warn({ err: 'ffmpeg: rtsp://admin:camS3cret@10.0.0.5/s: Connection refused' }, 'capture problem');
    log.error({ err: new Error('login failed for hunter2-pw') }, 'mqtt://u:urlS3cret@broker:1883 refused');
    const text = lines.join('');
    for (const secret of ['camS3cret', 'hunter2-pw', 'urlS3cret']) expect(text).not.toContain(secret);
    expect(text).toContain('rtsp://admin:***@10.0.0.5/s');
    expect(text).toContain('mqtt://u:***@broker:1883');
  });
});
