/** FleetView folds the boards' retained topics into rows; FleetTopics builds and parses the fleet's topics; device.tags config. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { isFaceedgeError } from '../../src/errors.js';
import { formatFleetStatus } from '../../src/cli/fleet-status-format.js';
import { FleetView } from '../../src/fleet/fleet-view.js';
import { FleetTopics } from '../../src/mqtt/mqtt-topics.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

describe('FleetTopics', () => {
  const t = new FleetTopics('site/faceedge');
  it('builds the wildcard filters and the shared-subscription filter', () => {
    expect(t.statusFilters).toEqual([
      'site/faceedge/+/availability',
      'site/faceedge/+/bridge/info',
      'site/faceedge/+/+/status/capture',
      'site/faceedge/+/stats',
    ]);
    expect(t.sharedEvents('consumers')).toBe('$share/consumers/site/faceedge/+/+/events');
    expect(() => t.sharedEvents('a/b')).toThrow(/one topic level/);
    expect(t.device('door').bridgeRequest('model/rollback')).toBe('site/faceedge/door/bridge/request/model/rollback');
    expect(t.device('door').modelPush).toBe('site/faceedge/door/model/push');
  });
  it('parses a device id out of a topic', () => {
    expect(t.parse('site/faceedge/door/cam/status/capture')).toEqual({
      device: 'door',
      rest: ['cam', 'status', 'capture'],
    });
    expect(t.parse('other/door/availability')).toBeNull();
    expect(t.parse('site/faceedge/door')).toBeNull();
  });
});

describe('FleetView', () => {
  const info = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      version: '0.1.0',
      model: { id: 'm1', sha256: 'a'.repeat(64), installed: 'model-store', version: 'm1-abc' },
      // Every model per face by name; a malformed entry is dropped without hiding the others.
      models: [
        { name: 'gender', id: 'm1', sha256: 'a'.repeat(64), installed: 'model-store', version: 'm1-abc', labels: [] },
        { name: 'age', id: 'a1', sha256: 'c'.repeat(64), installed: 'classifier.model' },
        { name: 'broken', sha256: 42 },
      ],
      delegate: { active: 'xnnpack', fallback_reason: null },
      cameras: ['door', 'yard'],
      tags: ['lobby'],
      config: {},
      ...over,
    });
  const stats = JSON.stringify({
    fps: { door: 4.1, yard: 0 },
    stages_ms: {},
    delegate: 'xnnpack',
    cpu_temperature_c: null,
    queue_depth: 0,
    events_total: { door: 7 },
    last_event_time: { door: T0 / 1000 - 5 },
    online_since: T0 / 1000 - 60,
    time: T0 / 1000,
  });

  it('makes one row per board from availability, bridge/info, capture status and stats', () => {
    let now = T0;
    const v = new FleetView(new FleetTopics('faceedge'), () => now);
    expect(v.ingest('faceedge/b2/availability', 'offline', true)).toBe('b2');
    v.ingest('faceedge/b1/availability', 'online', true);
    v.ingest('faceedge/b1/bridge/info', info(), true);
    v.ingest('faceedge/b1/door/status/capture', 'online', true);
    v.ingest('faceedge/b1/yard/status/capture', 'offline', true);
    v.ingest('faceedge/b1/stats', stats, true);
    expect(v.devices).toEqual(['b1', 'b2']);
    expect(v.board('b1')).toEqual({
      device: 'b1',
      online: true,
      since: new Date(T0 - 60_000).toISOString(),
      last_seen: new Date(T0).toISOString(),
      version: '0.1.0',
      model: { id: 'm1', sha256: 'a'.repeat(64), installed: 'model-store', version: 'm1-abc' },
      models: [
        { name: 'gender', id: 'm1', sha256: 'a'.repeat(64), installed: 'model-store', version: 'm1-abc' },
        { name: 'age', id: 'a1', sha256: 'c'.repeat(64), installed: 'classifier.model', version: null },
      ],
      delegate: { active: 'xnnpack', fallback_reason: null },
      tags: ['lobby'],
      cameras: [
        {
          name: 'door',
          capture: 'online',
          fps: 4.1,
          events_total: 7,
          last_event: new Date(T0 - 5000).toISOString(),
          stale: false,
        },
        { name: 'yard', capture: 'offline', fps: 0, events_total: 0, last_event: null, stale: false },
      ],
    });
    expect(v.board('b2')).toMatchObject({
      online: false,
      since: null,
      version: null,
      model: null,
      tags: [],
      cameras: [],
    });
    // A live change is timed by the view.
    now = T0 + 1000;
    v.ingest('faceedge/b1/availability', 'offline', false);
    expect(v.board('b1')).toMatchObject({ online: false, since: new Date(T0 + 1000).toISOString() });
  });

  it("marks an offline board's cameras stale, in the rows and in the table", () => {
    const v = new FleetView(new FleetTopics('faceedge'), () => T0);
    v.ingest('faceedge/b1/availability', 'online', true);
    v.ingest('faceedge/b1/bridge/info', info(), true);
    v.ingest('faceedge/b1/door/status/capture', 'online', true);
    v.ingest('faceedge/b1/stats', stats, true);
    expect(v.board('b1')!.cameras.map((c) => c.stale)).toEqual([false, false]);
    expect(formatFleetStatus(v.boards(), T0)).toMatch(/door:online 4\.1fps/);
    // Its will: offline. What its cameras last said stays, marked as such.
    v.ingest('faceedge/b1/availability', 'offline', false);
    const door = v.board('b1')!.cameras[0];
    expect(door).toMatchObject({ name: 'door', capture: 'online', fps: 4.1, stale: true });
    const table = formatFleetStatus(v.boards(), T0);
    expect(table).toMatch(/^b1 +OFFLINE .*door:STALE \(was online\) 4\.1fps/m);
    expect(table).not.toMatch(/door:online/);
  });

  it('ignores malformed payloads and foreign topics without losing the other boards', () => {
    const v = new FleetView(new FleetTopics('faceedge'));
    expect(v.ingest('faceedge/b1/bridge/info', '{not json')).toBeNull();
    expect(v.ingest('faceedge/b1/availability', 'maybe')).toBeNull();
    expect(v.ingest('faceedge/b1/stats', '[1,2]')).toBeNull();
    expect(v.ingest('homeassistant/status', 'online')).toBeNull();
    expect(v.ingest('faceedge/b1/cam/events', '{}')).toBeNull();
    v.ingest('faceedge/b3/bridge/info', info({ tags: 'not-a-list' }));
    expect(v.boards().map((b) => [b.device, b.tags])).toEqual([['b3', []]]);
  });
});

describe('device.tags', () => {
  const file = () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-tags-'));
    writeFileSync(join(dir, 'c.yaml'), 'device: { id: d1, tags: [lobby, floor-2] }\n');
    return join(dir, 'c.yaml');
  };
  it('reads a list from the file and a comma-separated string from the environment', () => {
    expect(loadConfig({ file: file(), env: {}, hostname: 'h' }).device.tags).toEqual(['lobby', 'floor-2']);
    expect(loadConfig({ file: file(), env: { FACEEDGE_DEVICE__TAGS: 'a, b' }, hostname: 'h' }).device.tags).toEqual([
      'a',
      'b',
    ]);
  });
  it('refuses a tag that is not a plain word', () => {
    let err: unknown;
    try {
      loadConfig({ file: file(), env: { FACEEDGE_DEVICE__TAGS: '["ok","no spaces"]' }, hostname: 'h' });
    } catch (e) {
      err = e;
    }
    expect(isFaceedgeError(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/device\.tags\.1/);
  });
});
