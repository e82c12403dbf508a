/**
 * The fleet ACL (src/fleet/broker-acl.ts) on a real Mosquitto: the gallery's bridge requests
 * (`bridge/request/faces/#`) may be published by the operator account only. A board account is refused them
 * even on its own prefix, while it still reads them (the operator's requests reach it) and still publishes
 * the rest of its own subtree.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mosquittoAcl } from '../../src/fleet/broker-acl.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';

describe('fleet ACL: gallery requests are the operator’s alone', { timeout: 60_000 }, () => {
  let dir: string;
  let broker: Mosquitto;
  let operator: MqttProbe;
  let board: MqttProbe;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-acl-gallery-'));
    const aclFile = join(dir, 'mosquitto.acl');
    writeFileSync(aclFile, mosquittoAcl());
    broker = await Mosquitto.start({
      users: { operator: 'op-secret', 'board-a': 'board-secret' },
      config: [`acl_file ${aclFile}`],
    });
    operator = await MqttProbe.connect(broker.url, ['faceedge/#'], {
      username: 'operator',
      password: 'op-secret',
      protocolVersion: 5,
    });
    board = await MqttProbe.connect(broker.url, ['faceedge/board-a/bridge/request/#'], {
      username: 'board-a',
      password: 'board-secret',
      protocolVersion: 5,
    });
  });
  afterAll(async () => {
    await board?.close();
    await operator?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a board cannot publish faces/add or faces/remove, even to itself; the operator can, and the board hears it', async () => {
    for (const command of ['faces/add', 'faces/remove']) {
      const outcome = await board.publish(`faceedge/board-a/bridge/request/${command}`, '{"name":"Mallory"}').then(
        () => 'accepted',
        (e: Error) => e.message,
      );
      expect(outcome).toMatch(/not authori[sz]ed/i);
    }
    // The rest of its own subtree is still its own: the deny is narrow.
    await board.publish('faceedge/board-a/availability', 'online');
    await operator.waitFor((m) => m.topic === 'faceedge/board-a/availability', 10_000, "the board's availability");
    // The operator's enrolment reaches the board.
    await operator.publish('faceedge/board-a/bridge/request/faces/add', '{"name":"Alice"}');
    await board.waitFor(
      (m) => m.topic === 'faceedge/board-a/bridge/request/faces/add' && m.text.includes('Alice'),
      10_000,
      "the operator's request",
    );
    // None of the board's own gallery requests ever reached anyone.
    expect(operator.messages.filter((m) => m.text.includes('Mallory'))).toEqual([]);
    expect(board.messages.filter((m) => m.text.includes('Mallory'))).toEqual([]);
  });
});
