/**
 * Home Assistant MQTT device discovery: one retained message on `<prefix>/device/<dev>/config` that
 * declares the whole board (HA ≥ 2024.11 device-based discovery): the device (`dev`), who published it
 * (`o`), and every entity under `cmps`, each with a `p` (platform) and a `unique_id` (required there).
 * Availability is shared at device level and follows `faceedge/<dev>/availability` (`online`/`offline`).
 *
 * Entities: per camera a face-present binary_sensor, the predicted class and its confidence (sensors
 * reading the events topic JSON), the same two for every further model (`attributes.<name>`), an `event`
 * entity for track events and a capture connectivity
 * diagnostic; per GPIO output a switch, or a lock when declared one (locked = OFF); per GPIO input a
 * binary_sensor (motion by default); with recognition on, per camera a person sensor (`<cam>/person`).
 *
 * HA forgets nothing it was told retained, but it announces restarts on `homeassistant/status`; the
 * message is republished when that says `online` ({@link isHaBirth}).
 */
import { HA_DISCOVERY_PREFIX, HomeAssistantTopics, MqttTopics } from './mqtt-topics.js';
import { UNSURE_LABEL } from '../classification/classification.js';

/** What the discovery message describes. */
export interface HaDiscoveryInput {
  /** First topic level(s), `faceedge` by default in config. */
  readonly baseTopic: string;
  /** Board id (one topic level). */
  readonly deviceId: string;
  /** Human-readable board name. */
  readonly deviceName: string;
  /** faceedge version (`sw`). */
  readonly version: string;
  /** Board model (`mdl`), e.g. from /proc/device-tree/model. Default `faceedge edge camera`. */
  readonly model?: string;
  /** Camera names. */
  readonly cameras: readonly string[];
  /** Class labels of the loaded model (`female`, `male`): the class sensor becomes an enum. Optional. */
  readonly classes?: readonly string[];
  /** The model can say `unknown` (an unsure floor): it becomes one of the class sensor's options. Default false. */
  readonly unsure?: boolean;
  /**
   * The models after the first (`classifiers:`, issue 24 §3): each gets, per camera, a sensor of its label
   * and one of its confidence, read from the event's `attributes.<name>`. Default none.
   */
  readonly attributes?: readonly HaAttribute[];
  readonly outputs?: readonly HaOutput[];
  readonly inputs?: readonly HaInput[];
  /** The board recognizes enrolled people: a person sensor per camera (`<cam>/person`). Default false. */
  readonly recognition?: boolean;
  /** HA discovery prefix. Default `homeassistant`. */
  readonly discoveryPrefix?: string;
  /** Support/documentation URL shown as the origin's link. Optional. */
  readonly supportUrl?: string;
}

/** A further model's attribute as HA should show it. */
export interface HaAttribute {
  /** The model's name (`attributes.<name>`; a topic level, so safe in ids and templates). */
  readonly name: string;
  /** Its labels: the sensor becomes an enum of them. */
  readonly classes: readonly string[];
  /** It can say `unknown`. Default false. */
  readonly unsure?: boolean;
}

/** A GPIO output as HA should show it. */
export interface HaOutput {
  readonly name: string;
  /** Friendly name; default the output name. */
  readonly title?: string;
  /** Show as a lock: OFF = locked. */
  readonly lock?: boolean;
  /** With `lock`: unlock pulses the output for this long (ms) instead of leaving it on. */
  readonly unlockMs?: number;
}

/** A GPIO input as HA should show it. */
export interface HaInput {
  readonly name: string;
  readonly title?: string;
  /** binary_sensor device class. Default `motion`. */
  readonly deviceClass?: string;
}

/** An MQTT message to publish. */
export interface HaMessage {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
  readonly qos: 0 | 1;
}

/** True when a message is HA's birth announcement, after which discovery must be sent again. */
export function isHaBirth(topic: string, payload: string | Uint8Array, prefix = HA_DISCOVERY_PREFIX): boolean {
  const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
  return topic === new HomeAssistantTopics(prefix).status && text.trim() === 'online';
}

/** Removes the device and its entities from HA (empty retained payload). */
export function haRemovalMessage(deviceId: string, prefix = HA_DISCOVERY_PREFIX): HaMessage {
  return { topic: new HomeAssistantTopics(prefix).discovery(deviceId), payload: '', retain: true, qos: 1 };
}

/** The components (entities) of the device, keyed by component id. */
export function haComponents(input: HaDiscoveryInput): Record<string, Record<string, unknown>> {
  const topics = new MqttTopics(input.baseTopic, input.deviceId);
  const uid = (suffix: string) => `faceedge_${input.deviceId}_${suffix}`;
  const cmps: Record<string, Record<string, unknown>> = {};
  for (const cam of input.cameras) {
    const events = topics.events(cam);
    cmps[`${cam}_face`] = {
      p: 'binary_sensor',
      name: `${cam} face`,
      unique_id: uid(`${cam}_face`),
      state_topic: topics.face(cam),
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: 'occupancy',
    };
    const classSensor: Record<string, unknown> = {
      p: 'sensor',
      name: `${cam} class`,
      unique_id: uid(`${cam}_class`),
      state_topic: events,
      value_template: "{{ value_json.after['class'] }}",
      icon: 'mdi:face-recognition',
    };
    if (input.classes && input.classes.length > 0) Object.assign(classSensor, enumOf(input.classes, input.unsure));
    cmps[`${cam}_class`] = classSensor;
    for (const attribute of input.attributes ?? []) Object.assign(cmps, attributeSensors(cam, events, attribute, uid));
    cmps[`${cam}_confidence`] = {
      p: 'sensor',
      name: `${cam} confidence`,
      unique_id: uid(`${cam}_confidence`),
      state_topic: events,
      value_template: '{{ (value_json.after.score * 100) | round(1) }}',
      unit_of_measurement: '%',
      state_class: 'measurement',
      icon: 'mdi:percent',
    };
    cmps[`${cam}_track`] = {
      p: 'event',
      name: `${cam} track`,
      unique_id: uid(`${cam}_track`),
      state_topic: events,
      event_types: ['new', 'update', 'end'],
      // The event platform wants a JSON object with event_type; the rest become attributes.
      value_template:
        "{{ {'event_type': value_json.type, 'track': value_json.after.id, 'class': value_json.after['class'], 'score': value_json.after.score, 'frames': value_json.after.frames} | to_json }}",
    };
    if (input.recognition) {
      // The state is the name, `unknown` or `none`; similarity, liveness and track are its attributes.
      cmps[`${cam}_person`] = {
        p: 'sensor',
        name: `${cam} person`,
        unique_id: uid(`${cam}_person`),
        state_topic: topics.person(cam),
        value_template: '{{ value_json.person }}',
        json_attributes_topic: topics.person(cam),
        icon: 'mdi:account-search',
      };
    }
    cmps[`${cam}_capture`] = {
      p: 'binary_sensor',
      name: `${cam} capture`,
      unique_id: uid(`${cam}_capture`),
      state_topic: topics.captureStatus(cam),
      payload_on: 'online',
      payload_off: 'offline',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
    };
  }
  for (const out of input.outputs ?? []) {
    const lineTopics = { command_topic: topics.gpioSet(out.name), state_topic: topics.gpioState(out.name) };
    const base = { name: out.title ?? out.name, unique_id: uid(`gpio_${out.name}`), ...lineTopics };
    cmps[`gpio_${out.name}`] = out.lock
      ? {
          p: 'lock',
          ...base,
          payload_lock: 'OFF',
          payload_unlock: out.unlockMs ? JSON.stringify({ state: 'ON', pulse_ms: out.unlockMs }) : 'ON',
          state_locked: 'OFF',
          state_unlocked: 'ON',
        }
      : { p: 'switch', ...base, payload_on: 'ON', payload_off: 'OFF', state_on: 'ON', state_off: 'OFF' };
  }
  for (const inp of input.inputs ?? []) {
    cmps[`gpio_${inp.name}`] = {
      p: 'binary_sensor',
      name: inp.title ?? inp.name,
      unique_id: uid(`gpio_${inp.name}`),
      state_topic: topics.gpioState(inp.name),
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: inp.deviceClass ?? 'motion',
    };
  }
  return cmps;
}

/** An enum sensor's settings for `classes`. */
function enumOf(classes: readonly string[], unsure = false): Record<string, unknown> {
  // Home Assistant refuses an enum state outside its options: `unknown` must be listed where it can occur.
  return { device_class: 'enum', options: [...classes, ...(unsure ? [UNSURE_LABEL] : [])] };
}

/** A further model's two sensors on one camera: its label and its confidence (ids prefixed `attr_`, never a camera's own). */
function attributeSensors(
  cam: string,
  events: string,
  attribute: HaAttribute,
  uid: (suffix: string) => string,
): Record<string, Record<string, unknown>> {
  const id = `${cam}_attr_${attribute.name}`;
  const value = `value_json.after.attributes['${attribute.name}']`;
  return {
    [id]: {
      p: 'sensor',
      name: `${cam} ${attribute.name}`,
      unique_id: uid(id),
      state_topic: events,
      value_template: `{{ ${value}.label }}`,
      icon: 'mdi:face-recognition',
      ...enumOf(attribute.classes, attribute.unsure),
    },
    [`${id}_confidence`]: {
      p: 'sensor',
      name: `${cam} ${attribute.name} confidence`,
      unique_id: uid(`${id}_confidence`),
      state_topic: events,
      value_template: `{{ (${value}.score * 100) | round(1) }}`,
      unit_of_measurement: '%',
      state_class: 'measurement',
      icon: 'mdi:percent',
    },
  };
}

/** The discovery message: retained, QoS 1, compact JSON. */
export function buildHaDiscovery(input: HaDiscoveryInput): HaMessage {
  const payload = {
    dev: {
      ids: [`faceedge_${input.deviceId}`],
      name: input.deviceName,
      mf: 'faceedge',
      mdl: input.model ?? 'faceedge edge camera',
      sw: input.version,
    },
    o: { name: 'faceedge', sw: input.version, ...(input.supportUrl ? { url: input.supportUrl } : {}) },
    availability_topic: new MqttTopics(input.baseTopic, input.deviceId).availability,
    payload_available: 'online',
    payload_not_available: 'offline',
    qos: 1,
    cmps: haComponents(input),
  };
  return {
    topic: new HomeAssistantTopics(input.discoveryPrefix).discovery(input.deviceId),
    payload: JSON.stringify(payload),
    retain: true,
    qos: 1,
  };
}
