import { describe, expect, it } from 'vitest';
import { mosquittoBridgeConfig } from '../../src/fleet/bridge-config.js';
import { mosquittoAcl } from '../../src/fleet/broker-acl.js';
import { HomeAssistantTopics, MqttTopics, topicMatches } from '../../src/mqtt/mqtt-topics.js';

// What a board named `pi` publishes and subscribes to, from the one topic module.
const board = new MqttTopics('faceedge', 'pi');
const ha = new HomeAssistantTopics();
const TRANSFER = '0123456789abcdef0123456789abcdef';
const PUBLISHED = [
  board.availability,
  board.bridgeInfo,
  board.bridgeResponse('model/reload'),
  board.events('door'),
  board.face('door'),
  board.captureStatus('door'),
  board.person('door'),
  board.stats,
  board.rulesAction,
  board.access,
  board.gpioState('lock'),
  board.modelPushPart(TRANSFER, 'status'),
  ha.discovery('pi'),
];
/** Topics the board receives, through the filters it subscribes with. */
const RECEIVED = [
  board.bridgeRequest('model/reload'),
  board.gpioSet('lock'),
  board.modelPushPart(TRANSFER, 'begin'),
  board.modelPushPart(TRANSFER, 7),
  board.modelPushPart(TRANSFER, 'commit'),
  ha.status,
];
const SUBSCRIPTIONS = [board.bridgeRequestFilter, board.gpioSetFilter, board.modelPushFilter, ha.status];

/** The topic filters of lines such as `pattern write <filter>` or `topic <filter> out 1`. */
function filters(text: string, line: RegExp): string[] {
  return text.split('\n').flatMap((l) => {
    const m = line.exec(l);
    return m ? [m[1]] : [];
  });
}

describe('one topic module for the board, the bridge and the ACL', () => {
  it('the board receives on its subscriptions exactly the topics that are sent to it', () => {
    for (const topic of RECEIVED)
      expect(
        SUBSCRIPTIONS.some((f) => topicMatches(f, topic)),
        topic,
      ).toBe(true);
    expect(board.modelPushPartOf(board.modelPushPart(TRANSFER, 7))).toEqual({ transfer: TRANSFER, part: '7' });
    expect(board.modelPushPartOf(`${board.modelPush}/${TRANSFER}/7/extra`)).toBeNull();
    expect(board.modelPushPartOf(new MqttTopics('faceedge', 'other').modelPushPart(TRANSFER, 'begin'))).toBeNull();
  });

  it("the fleet ACL lets a board write every topic it publishes and read every topic sent to it, and no other board's", () => {
    const acl = mosquittoAcl().replaceAll('%u', 'pi');
    const writable = filters(acl, /^pattern write (\S+)$/);
    const readable = filters(acl, /^pattern read (\S+)$/);
    for (const topic of PUBLISHED)
      expect(
        writable.some((f) => topicMatches(f, topic)),
        topic,
      ).toBe(true);
    for (const topic of RECEIVED)
      expect(
        readable.some((f) => topicMatches(f, topic)),
        topic,
      ).toBe(true);
    const neighbour = new MqttTopics('faceedge', 'pi2');
    for (const topic of [neighbour.events('door'), neighbour.availability, ha.discovery('pi2')])
      expect(
        writable.some((f) => topicMatches(f, topic)),
        topic,
      ).toBe(false);
    for (const topic of [neighbour.bridgeRequest('options'), neighbour.gpioSet('lock')])
      expect(
        readable.some((f) => topicMatches(f, topic)),
        topic,
      ).toBe(false);
  });

  it('the site bridge carries every topic a board publishes out, and every topic sent to a board in', () => {
    const config = mosquittoBridgeConfig({ site: 'lobby', central: 'central:8883' });
    const out = filters(config, /^topic (\S+) out 1$/);
    const inbound = filters(config, /^topic (\S+) in 1$/);
    for (const topic of PUBLISHED)
      expect(
        out.some((f) => topicMatches(f, topic)),
        topic,
      ).toBe(true);
    for (const topic of RECEIVED.filter((t) => t !== ha.status))
      expect(
        inbound.some((f) => topicMatches(f, topic)),
        topic,
      ).toBe(true);
  });
});
