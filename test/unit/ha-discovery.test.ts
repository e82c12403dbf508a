/**
 * Home Assistant device discovery: the payload's structure, and its value templates rendered by real
 * Jinja2 (python3-jinja2, the engine HA uses, with HA's to_json filter added) against real event JSON.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  buildHaDiscovery,
  haComponents,
  haRemovalMessage,
  isHaBirth,
  type HaDiscoveryInput,
} from '../../src/mqtt/ha-discovery.js';

const INPUT: HaDiscoveryInput = {
  baseTopic: 'faceedge',
  deviceId: 'pi5-door',
  deviceName: 'Front door',
  version: '0.1.0',
  model: 'Raspberry Pi 5 Model B Rev 1.0',
  cameras: ['door'],
  classes: ['female', 'male'],
  outputs: [{ name: 'door_lock', lock: true, unlockMs: 3000, title: 'Door lock' }, { name: 'led' }],
  inputs: [{ name: 'pir' }, { name: 'contact', deviceClass: 'door' }],
};

describe('HA device discovery message', () => {
  const message = buildHaDiscovery(INPUT);
  const payload = JSON.parse(message.payload);

  it('is one retained message on homeassistant/device/<dev>/config with device, origin and availability', () => {
    expect(message).toMatchObject({ topic: 'homeassistant/device/pi5-door/config', retain: true, qos: 1 });
    expect(payload.dev).toEqual({
      ids: ['faceedge_pi5-door'],
      name: 'Front door',
      mf: 'faceedge',
      mdl: 'Raspberry Pi 5 Model B Rev 1.0',
      sw: '0.1.0',
    });
    expect(payload.o).toEqual({ name: 'faceedge', sw: '0.1.0' });
    expect(payload.availability_topic).toBe('faceedge/pi5-door/availability');
    expect(buildHaDiscovery({ ...INPUT, discoveryPrefix: 'ha' }).topic).toBe('ha/device/pi5-door/config');
  });

  it('gives every component a platform and a unique, device-scoped unique_id', () => {
    const cmps = Object.values(payload.cmps) as { p: string; unique_id: string }[];
    expect(cmps.map((c) => c.p).sort()).toEqual(
      [
        'binary_sensor',
        'binary_sensor',
        'binary_sensor',
        'binary_sensor',
        'event',
        'lock',
        'sensor',
        'sensor',
        'switch',
      ].sort(),
    );
    const ids = cmps.map((c) => c.unique_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id.startsWith('faceedge_pi5-door_')).toBe(true);
  });

  it('points each camera entity at the MQTT contract topics', () => {
    expect(payload.cmps.door_face).toMatchObject({
      p: 'binary_sensor',
      state_topic: 'faceedge/pi5-door/door/face',
      payload_on: 'ON',
      payload_off: 'OFF',
    });
    expect(payload.cmps.door_class).toMatchObject({
      state_topic: 'faceedge/pi5-door/door/events',
      device_class: 'enum',
      options: ['female', 'male'],
    });
    expect(payload.cmps.door_confidence).toMatchObject({
      state_topic: 'faceedge/pi5-door/door/events',
      unit_of_measurement: '%',
    });
    expect(payload.cmps.door_track).toMatchObject({ p: 'event', event_types: ['new', 'update', 'end'] });
    expect(payload.cmps.door_capture).toMatchObject({
      state_topic: 'faceedge/pi5-door/door/status/capture',
      payload_on: 'online',
    });
    expect(haComponents({ ...INPUT, classes: undefined }).door_class.device_class).toBeUndefined();
  });

  it('maps outputs to a lock (OFF = locked, unlock = pulse) or a switch, and inputs to binary sensors', () => {
    expect(payload.cmps.gpio_door_lock).toMatchObject({
      p: 'lock',
      name: 'Door lock',
      command_topic: 'faceedge/pi5-door/gpio/door_lock/set',
      state_topic: 'faceedge/pi5-door/gpio/door_lock/state',
      payload_lock: 'OFF',
      state_locked: 'OFF',
      state_unlocked: 'ON',
    });
    expect(JSON.parse(payload.cmps.gpio_door_lock.payload_unlock)).toEqual({ state: 'ON', pulse_ms: 3000 });
    expect(payload.cmps.gpio_led).toMatchObject({
      p: 'switch',
      command_topic: 'faceedge/pi5-door/gpio/led/set',
      payload_on: 'ON',
    });
    expect(payload.cmps.gpio_pir).toMatchObject({
      p: 'binary_sensor',
      device_class: 'motion',
      state_topic: 'faceedge/pi5-door/gpio/pir/state',
    });
    expect(payload.cmps.gpio_contact.device_class).toBe('door');
  });
});

describe('value templates under Jinja2', () => {
  const cmps = haComponents(INPUT);
  const event = (type: string) =>
    JSON.stringify({
      type,
      before: null,
      after: {
        id: 'door-17',
        camera: 'door',
        class: 'male',
        score: 0.9349,
        top_score: 0.97,
        frames: 6,
        start_time: 1,
        end_time: null,
        model: 'm',
      },
    });

  /** Renders `template` the way HA does for MQTT values: `value` and `value_json` in scope. */
  function render(template: string, value: string): string {
    const script = [
      'import json, sys',
      'from jinja2.sandbox import ImmutableSandboxedEnvironment',
      'env = ImmutableSandboxedEnvironment()',
      'env.filters["to_json"] = json.dumps',
      'template, value = sys.argv[1], sys.argv[2]',
      'sys.stdout.write(env.from_string(template).render(value=value, value_json=json.loads(value)))',
    ].join('\n');
    try {
      return execFileSync('python3', ['-c', script, template, value], { encoding: 'utf8' });
    } catch (err) {
      throw new Error(`rendering needs python3 with jinja2 (Debian: python3-jinja2): ${(err as Error).message}`);
    }
  }

  it('extracts the class and the confidence in percent', () => {
    expect(render(String(cmps.door_class.value_template), event('update'))).toBe('male');
    expect(render(String(cmps.door_confidence.value_template), event('update'))).toBe('93.5');
  });

  it('renders a JSON event payload whose event_type is one of the declared types', () => {
    for (const type of ['new', 'update', 'end']) {
      const rendered = JSON.parse(render(String(cmps.door_track.value_template), event(type)));
      expect(rendered).toEqual({ event_type: type, track: 'door-17', class: 'male', score: 0.9349, frames: 6 });
      expect(cmps.door_track.event_types).toContain(rendered.event_type);
    }
  });
});

describe('republishing', () => {
  it('recognises HA birth messages only', () => {
    expect(isHaBirth('homeassistant/status', 'online')).toBe(true);
    expect(isHaBirth('homeassistant/status', Buffer.from('online\n'))).toBe(true);
    expect(isHaBirth('homeassistant/status', 'offline')).toBe(false);
    expect(isHaBirth('faceedge/pi5-door/availability', 'online')).toBe(false);
    expect(isHaBirth('ha/status', 'online', 'ha')).toBe(true);
  });

  it('removes the device with an empty retained payload', () => {
    expect(haRemovalMessage('pi5-door')).toEqual({
      topic: 'homeassistant/device/pi5-door/config',
      payload: '',
      retain: true,
      qos: 1,
    });
  });
});
