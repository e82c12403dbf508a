/**
 * No similarity of an unmatched face leaves the board (issue 23 §5): the similarity of a face the gallery did not
 * match would let whoever reads MQTT adjust a presentation try by try towards the threshold. Checked on each of
 * the three payloads that carry one — track events (through the real outbox to a real Mosquitto), the retained
 * `<cam>/person` state, and `<dev>/access` — while a named person's similarity, and the board's own access log
 * (0600), keep theirs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { CameraPersonState } from '../../src/mqtt/person-state.js';
import {
  disclosedLivenessScore,
  disclosedSimilarity,
  disclosedSnapshot,
  type PersonMatch,
  type TrackEvent,
} from '../../src/pipeline/track-event.js';
import { accessRecord, publishedAccessRecord, type AccessDecision } from '../../src/rules/access-decision.js';
import { makeSnapshot } from '../helpers/make-track-event.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { testMqttOutput } from '../helpers/test-mqtt-output.js';

const LIVE = { outcome: 'live', score: 0.93 } as const;
const STRANGER: PersonMatch = { name: null, similarity: 0.412 };
const ALICE: PersonMatch = { name: 'alice', similarity: 0.971 };

function event(track: string, person: PersonMatch, before: PersonMatch | null = null): TrackEvent {
  const snapshot = (p: PersonMatch) => ({ ...makeSnapshot('door', track), person: p, liveness: LIVE });
  return { type: before ? 'update' : 'new', before: before && snapshot(before), after: snapshot(person) };
}

describe('the rule', () => {
  it('keeps a named person’s similarity and withholds an unmatched face’s', () => {
    expect(disclosedSimilarity('alice', 0.97)).toBe(0.97);
    expect(disclosedSimilarity(null, 0.41)).toBeNull();
    expect(disclosedSimilarity(null, null)).toBeNull();
    const stranger = event('door-1', STRANGER).after;
    expect(disclosedSnapshot(stranger)).toEqual({ ...stranger, person: { name: null, similarity: null } });
    const alice = event('door-2', ALICE).after;
    expect(disclosedSnapshot(alice)).toBe(alice);
    const off = makeSnapshot('door', 'door-3');
    expect(disclosedSnapshot(off)).toBe(off); // recognition off: nothing to withhold, no field added
  });
});

describe('the liveness score', () => {
  it('leaves the board only for a face judged live: a refused print’s P(live) would show how close it came', () => {
    expect(disclosedLivenessScore('live', 0.93)).toBe(0.93);
    expect(disclosedLivenessScore('attack', 0.31)).toBeNull();
    expect(disclosedLivenessScore('unknown', 0.62)).toBeNull();
    const print = { ...event('door-5', ALICE).after, liveness: { outcome: 'attack', score: 0.31 } as const };
    expect(disclosedSnapshot(print)).toEqual({ ...print, liveness: { outcome: 'attack', score: null } });
    const record = accessRecord(
      {
        camera: 'door',
        track: 'door-5',
        person: 'alice',
        similarity: 0.97,
        liveness: 'attack',
        liveness_score: 0.31,
        outcome: 'denied',
        reason: 'not_live',
        rule: 'front-door',
        at: 1,
      },
      1_800_000_000,
    );
    expect(publishedAccessRecord(record)).toEqual({ ...record, liveness_score: null });
  });
});

describe('<cam>/person', () => {
  it('says unknown without the similarity, a name with it', () => {
    const state = new CameraPersonState();
    expect(state.apply([event('door-1', STRANGER)])).toEqual({
      person: 'unknown',
      similarity: null,
      liveness: 'live',
      track: 'door-1',
    });
    expect(state.apply([event('door-2', ALICE)])).toMatchObject({ person: 'alice', similarity: 0.971 });
  });
});

describe('<dev>/access', () => {
  const decision = (person: string | null, similarity: number): AccessDecision => ({
    camera: 'door',
    track: 'door-4',
    person,
    similarity,
    liveness: 'live',
    liveness_score: 0.93,
    outcome: person ? 'granted' : 'denied',
    reason: person ? 'granted' : 'unknown',
    rule: 'front-door',
    at: 1,
  });
  it('publishes an unknown face’s refusal without the similarity the access log keeps', () => {
    const record = accessRecord(decision(null, 0.412), 1_800_000_000);
    expect(record.similarity).toBe(0.412);
    expect(publishedAccessRecord(record)).toEqual({ ...record, similarity: null });
    const granted = accessRecord(decision('alice', 0.971), 1_800_000_000);
    expect(publishedAccessRecord(granted)).toEqual(granted);
  });
});

describe('track events through the outbox to a real broker', () => {
  let broker: Mosquitto;
  let mqtt: MqttOutput;
  let probe: MqttProbe;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    mqtt = testMqttOutput({ url: broker.url, deviceId: 'pi' });
    await mqtt.start();
    probe = await MqttProbe.connect(broker.url, ['faceedge/pi/+/events']);
  }, 60_000);

  afterAll(async () => {
    await probe?.close();
    await mqtt?.stop();
    await broker?.dispose();
  });

  it('carry no similarity of an unmatched face, in `after` or `before`, and a named person’s in full', async () => {
    mqtt.publishEvent(event('door-1', STRANGER));
    mqtt.publishEvent(event('door-1', ALICE, STRANGER)); // the stranger came closer and was named
    const received = await probe.waitUntil(
      () => (probe.messages.length >= 2 ? probe.messages.map((m) => JSON.parse(m.text) as TrackEvent) : undefined),
      20_000,
      'both events',
    );
    expect(received.map((e) => e.after.person)).toEqual([{ name: null, similarity: null }, ALICE]);
    expect(received[1].before?.person).toEqual({ name: null, similarity: null });
    expect(received.every((e) => e.after.liveness?.score === LIVE.score)).toBe(true);
    expect(JSON.stringify(received)).not.toContain('0.412');
  }, 60_000);
});
