/**
 * The daemon's GPIO side end to end: `faceedge run` as a child process with the libgpiod stand-ins on
 * its PATH (emulated chips, test/stand-ins), a real clip, a real Mosquitto. Every check reads the
 * emulated line or what a subscriber receives, never the daemon's own idea of it.
 *
 * - rule "any class, score ≥ 0, 3 frames on camera door → pulse relay 500 ms, cooldown 10 s": the line
 *   goes on then off, `gpio/relay/state` retained ON then OFF, the action on `rules/action`;
 * - `gpio/relay/set` with ON, OFF and malformed payloads;
 * - an input-gated camera: `porch` runs only while `pir` is active;
 * - Home Assistant discovery retained, and republished when HA says `online`;
 * - the live view's board state: the lines, the rules' last actions, the paused camera;
 * - SIGKILL mid-pulse: the relay returns to its safe state; `faceedge gpio safe` (ExecStopPost) drives it too.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, runFaceedge, TEST_DEVICE } from '../helpers/daemon-process.js';
import { EmulatedGpio, waitUntil } from '../helpers/emulated-gpio.js';
import { freePort } from '../helpers/free-port.js';
import { httpGet } from '../helpers/http-get.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';
import { eventsOn } from '../helpers/track-events.js';

const classifier = testClassifierPath();
const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking.gif');
const STILL = join(REPO_ROOT, 'test/fixtures/scenes/astronaut.png');
const ROOT = `faceedge/${TEST_DEVICE}`;
const CHIP = 'gpiochip0';
const RELAY = 17;
const PIR = 4;
const HA_CONFIG = `homeassistant/device/${TEST_DEVICE}/config`;

const GPIO = {
  backend: 'libgpiod',
  chip: 'pinctrl-rp1',
  outputs: { relay: { line: RELAY, safe: 'off' } },
  inputs: { pir: { line: PIR, debounce_ms: 20 } },
};
const RULES = [
  // once_per_track off: every new/update event of a qualifying track matches, so only the cooldown
  // stands between the clip's event stream and a relay chattering on every update.
  {
    id: 'unlock',
    when: { camera: 'door', class: 'any', min_score: 0.0, min_frames: 3 },
    then: { output: 'relay', pulse_ms: 500 },
    cooldown_ms: 10_000,
    once_per_track: false,
  },
  { id: 'porch-on-motion', when_input: 'pir', then: { camera: 'porch' } },
];

/** Pids of running stand-in gpiomon processes of this emulated board (their command line names its bin folder). */
function gpiomonProcesses(binDir: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
          .split('\0')
          .some((arg) => arg === join(binDir, 'gpiomon'));
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe.skipIf(!classifier)(`daemon GPIO, rules and Home Assistant (${classifier ?? NO_CLASSIFIER_REASON})`, () => {
  let dir: string;
  let broker: Mosquitto;
  let probe: MqttProbe;
  let sim: EmulatedGpio;
  let daemon: DaemonProcess;
  let configFile: string;
  let httpPort: number;
  /** Only what the stand-ins need: the test's own FACEEDGE_* must not reach the daemon as config. */
  let gpioEnv: Record<string, string>;

  const on = (topic: string) => probe.on(topic);
  const texts = (topic: string) => on(topic).map((m) => m.text);
  const actions = () => on(`${ROOT}/rules/action`).map((m) => JSON.parse(m.text) as Record<string, any>);
  const drives = () => sim.log(CHIP, RELAY).filter((e) => e.what !== 'release');
  const waitMessage = (match: (m: ProbeMessage) => boolean, what: string, ms = 15_000) =>
    probe.waitFor(match, ms, what);
  /** What the broker holds retained on `topic`, as a subscriber arriving now sees it. */
  async function retained(topic: string): Promise<string> {
    const late = await MqttProbe.connect(broker.url, [topic]);
    try {
      return (await late.waitFor((m) => m.retain, 5000, `retained ${topic}`)).text;
    } finally {
      await late.close();
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-daemon-gpio-'));
    broker = await Mosquitto.start();
    probe = await MqttProbe.connect(broker.url, [`${ROOT}/#`, 'homeassistant/#']);
    sim = new EmulatedGpio({
      version: '2.1.3',
      interactive: true,
      release: 'keep',
      chips: [{ name: CHIP, label: 'pinctrl-rp1', lines: 54 }],
    });
    const env = sim.env();
    gpioEnv = Object.fromEntries(
      ['PATH', 'FACEEDGE_GPIO_SIM', 'FACEEDGE_GPIO_SIM_VERSION', 'FACEEDGE_GPIO_SIM_INTERACTIVE'].map((k) => [
        k,
        env[k]!,
      ]),
    );
    httpPort = await freePort();
    const config = daemonConfig({
      brokerUrl: broker.url,
      httpPort,
      stateDir: join(dir, 'state'),
      cameras: [
        // Played once: a bounded number of tracks, so the cooldown's effect is countable.
        { name: 'door', source: { type: 'gif', path: CLIP } },
        // Runs only while the PIR sees motion; it also keeps the daemon up once the door clip has ended.
        { name: 'porch', source: { type: 'image', path: STILL, loop: true, fps: 4 } },
      ],
      extra: { gpio: GPIO, rules: RULES, tracker: { update_interval_ms: 250 } },
    });
    daemon = DaemonProcess.start(config, { dir, classifier: classifier!, env: gpioEnv });
    configFile = daemon.configFile;
    await daemon.waitRunning(60_000);
  }, 90_000);

  afterAll(async () => {
    await daemon?.dispose();
    await probe?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the relay in its safe state, held by a line holder, with retained states and the HA discovery message', async () => {
    expect(sim.level(CHIP, RELAY)).toBe(0);
    expect(sim.holder(CHIP, RELAY)).not.toBeNull();
    expect(sim.consumer(CHIP, RELAY)).toBe('faceedge-relay');
    expect((await waitMessage((m) => m.topic === `${ROOT}/gpio/relay/state`, 'relay state')).text).toBe('OFF');
    expect(await retained(`${ROOT}/gpio/relay/state`)).toBe('OFF');
    expect(await retained(`${ROOT}/gpio/pir/state`)).toBe('OFF');
    // The gated camera waits for its input.
    expect(await waitMessage((m) => m.topic === `${ROOT}/porch/status/capture`, 'porch capture status')).toMatchObject({
      text: 'offline',
    });

    await waitMessage((m) => m.topic === HA_CONFIG, 'HA discovery');
    const cmps = JSON.parse(await retained(HA_CONFIG)).cmps as Record<string, Record<string, unknown>>;
    expect(cmps.gpio_relay).toMatchObject({
      p: 'switch',
      command_topic: `${ROOT}/gpio/relay/set`,
      state_topic: `${ROOT}/gpio/relay/state`,
    });
    expect(cmps.gpio_pir).toMatchObject({
      p: 'binary_sensor',
      state_topic: `${ROOT}/gpio/pir/state`,
      device_class: 'motion',
    });
    expect(cmps.door_face).toMatchObject({ state_topic: `${ROOT}/door/face` });
    expect(cmps.door_class).toMatchObject({ options: ['female', 'male'] });
  });

  it('pulses the relay for 500 ms once a door track reaches 3 frames, publishes the action, and the cooldown holds back the rest of the clip', async () => {
    const action = await waitMessage((m) => m.topic === `${ROOT}/rules/action`, 'a rule action', 60_000);
    expect(action.retain).toBe(false);
    expect(JSON.parse(action.text)).toMatchObject({
      kind: 'pulse',
      output: 'relay',
      ms: 500,
      rule: 'unlock',
      description: expect.stringContaining('pulse relay for 500 ms'),
    });
    // The event that triggered it: a door track with at least 3 frames, published before the action.
    const trigger = eventsOn(probe.messages.slice(0, probe.messages.indexOf(action)), `${ROOT}/door/events`).find(
      (e) => e.after.frames >= 3,
    );
    expect(trigger, 'a door event with 3 frames before the action').toBeDefined();
    expect(JSON.parse(action.text).reason).toContain(trigger!.after.id);

    await waitUntil(
      () => texts(`${ROOT}/gpio/relay/state`).join(',') === 'OFF,ON,OFF',
      'relay state OFF → ON → OFF',
      10_000,
    );
    expect(await retained(`${ROOT}/gpio/relay/state`)).toBe('OFF');
    const [high, low] = drives().slice(-2);
    expect([high.what, low.what]).toEqual(['1', '0']);
    expect(low.timeMs - high.timeMs).toBeGreaterThanOrEqual(450);
    expect(low.timeMs - high.timeMs).toBeLessThan(2000);
    expect(sim.level(CHIP, RELAY)).toBe(0);
    // Log line per action (RuleRunner) — every action is logged as well as published.
    expect(daemon.logs.some((l) => l.rule === 'unlock' && /pulse relay for 500 ms/.test(l.msg))).toBe(true);

    // The clip (about 4 s) ends well within the 10 s cooldown: the many matching events after the
    // first fired nothing.
    await waitMessage(
      (m) => m.topic === `${ROOT}/door/status/capture` && m.text === 'offline' && on(`${ROOT}/door/events`).length > 0,
      'the door clip to end',
      60_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    const matching = eventsOn(probe.messages, `${ROOT}/door/events`).filter(
      (e) => e.type !== 'end' && e.after.frames >= 3,
    );
    expect(matching.length).toBeGreaterThanOrEqual(3);
    expect(actions().filter((a) => a.rule === 'unlock')).toHaveLength(1);
  });

  it('gpio/relay/set: ON and OFF drive the line; malformed payloads are logged and change nothing', async () => {
    await probe.publish(`${ROOT}/gpio/relay/set`, 'ON');
    await waitUntil(
      () => sim.level(CHIP, RELAY) === 1 && texts(`${ROOT}/gpio/relay/state`).at(-1) === 'ON',
      'relay ON',
    );
    await probe.publish(`${ROOT}/gpio/relay/set`, 'off');
    await waitUntil(
      () => sim.level(CHIP, RELAY) === 0 && texts(`${ROOT}/gpio/relay/state`).at(-1) === 'OFF',
      'relay OFF',
    );

    const statesBefore = on(`${ROOT}/gpio/relay/state`).length;
    const drivesBefore = drives().length;
    for (const bad of ['BANANA', '{"pulse_ms": -5}', '{"state": "ON"'])
      await probe.publish(`${ROOT}/gpio/relay/set`, bad);
    await daemon.waitForLog(
      (l) => l.msg === 'malformed GPIO command ignored' && String(l.err).includes('{\\"state\\": \\"ON\\"'),
      10_000,
      'the third malformed command',
    );
    expect(daemon.logs.filter((l) => l.msg === 'malformed GPIO command ignored')).toHaveLength(3);
    // A set for an output that does not exist is refused by name.
    await probe.publish(`${ROOT}/gpio/nothing/set`, 'ON');
    await daemon.waitForLog(
      (l) => l.msg === 'GPIO command for an output that is not configured' && l.gpio === 'nothing',
      10_000,
    );
    expect(on(`${ROOT}/gpio/relay/state`)).toHaveLength(statesBefore);
    expect(drives()).toHaveLength(drivesBefore);
    expect(daemon.exitStatus).toBeNull();
  });

  it('runs the porch camera only while the PIR input is active, ending its tracks when it pauses', async () => {
    const from = probe.messages.length;
    const since = () => probe.messages.slice(from);
    sim.drive(CHIP, PIR, 1);
    await probe.waitUntil(
      () => since().find((m) => m.topic === `${ROOT}/gpio/pir/state` && m.text === 'ON'),
      10_000,
      'pir ON',
    );
    await probe.waitUntil(
      () => since().find((m) => m.topic === `${ROOT}/porch/status/capture` && m.text === 'online'),
      15_000,
      'porch capture online',
    );
    await probe.waitUntil(
      () => eventsOn(since(), `${ROOT}/porch/events`).find((e) => e.type === 'new'),
      30_000,
      'a porch track',
    );
    expect(actions().find((a) => a.rule === 'porch-on-motion' && a.kind === 'camera' && a.run === true)).toBeDefined();

    sim.drive(CHIP, PIR, 0);
    await probe.waitUntil(
      () => since().find((m) => m.topic === `${ROOT}/porch/status/capture` && m.text === 'offline'),
      15_000,
      'porch paused',
    );
    await probe.waitUntil(
      () => eventsOn(since(), `${ROOT}/porch/events`).find((e) => e.type === 'end'),
      15_000,
      'the porch track ended',
    );
    expect(actions().find((a) => a.rule === 'porch-on-motion' && a.run === false)).toBeDefined();
    // A paused camera delivers no frames on purpose: it does not count against readiness. (The door
    // clip has ended, so its own frame age may by now; that is not what this checks.)
    const from2 = probe.messages.length;
    await probe.publish(`${ROOT}/bridge/request/health_check`, '{}');
    const health = await probe.waitUntil(
      () => probe.messages.slice(from2).find((m) => m.topic === `${ROOT}/bridge/response/health_check`),
      10_000,
      'health_check',
    );
    const report = JSON.parse(health.text).data as {
      paused_cameras: string[];
      last_frame_age_ms: object;
      reasons: string[];
    };
    expect(report.paused_cameras).toEqual(['porch']);
    expect(report.last_frame_age_ms).not.toHaveProperty('porch');
    expect(report.reasons.filter((r) => r.includes('porch'))).toEqual([]);
    // Paused means paused: no porch events after the end.
    const count = eventsOn(probe.messages, `${ROOT}/porch/events`).length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(eventsOn(probe.messages, `${ROOT}/porch/events`)).toHaveLength(count);
  });

  it("shows the lines, the rules' last actions and the paused camera on the live view", async () => {
    const { status, body } = await httpGet(httpPort, '/live/state');
    expect(status).toBe(200);
    const board = JSON.parse(body).board as Record<string, any>;
    expect(board.gpio).toEqual({ outputs: [{ name: 'relay', on: false }], inputs: [{ name: 'pir', on: false }] });
    expect(board.rule_actions.map((a: { rule: string; kind: string }) => `${a.rule} ${a.kind}`)).toEqual(
      expect.arrayContaining(['unlock pulse', 'porch-on-motion camera']),
    );
    expect(board.rule_actions[0]).toMatchObject({ rule: 'porch-on-motion', run: false });
    expect(board.cameras.find((c: { name: string }) => c.name === 'porch')).toMatchObject({
      paused: true,
      capture: { state: 'offline', reason: 'paused by a rule' },
    });
    expect(board.mqtt).toMatchObject({ connected: true, outbox_depth: expect.any(Number) });
  });

  it('republishes the HA discovery message when Home Assistant announces itself online', async () => {
    const before = on(HA_CONFIG).length;
    await probe.publish('homeassistant/status', 'offline');
    await probe.publish('homeassistant/status', 'online');
    await probe.waitUntil(() => on(HA_CONFIG).length > before, 10_000, 'discovery republished');
    expect(on(HA_CONFIG).at(-1)!.text).toBe(on(HA_CONFIG)[0].text);
    await new Promise((r) => setTimeout(r, 300));
    expect(on(HA_CONFIG)).toHaveLength(before + 1); // `offline` republished nothing
  });

  it('returns the relay to its safe state when the daemon is SIGKILLed mid-pulse; `faceedge gpio safe` drives it safe again', async () => {
    await probe.publish(`${ROOT}/gpio/relay/set`, JSON.stringify({ pulse_ms: 30_000 }));
    await waitUntil(() => sim.level(CHIP, RELAY) === 1, 'the relay on for a 30 s pulse');
    const holder = sim.holder(CHIP, RELAY);
    expect(gpiomonProcesses(sim.binDir).length).toBeGreaterThan(0); // the PIR input's monitor
    daemon.signal('SIGKILL');
    expect((await daemon.exited).signal).toBe('SIGKILL');
    await waitUntil(
      () => sim.level(CHIP, RELAY) === 0 && sim.holder(CHIP, RELAY) === null,
      'the relay back to off and released',
      10_000,
    );
    // The input monitor dies with the daemon too: an orphaned gpiomon would keep the PIR line requested.
    await waitUntil(() => gpiomonProcesses(sim.binDir).length === 0, 'no gpiomon left after the daemon died', 10_000);
    expect(drives().at(-1)).toMatchObject({ what: '0' });
    expect(holder).not.toBeNull();

    // systemd's ExecStopPost=: the same config, run after the service is gone.
    const n = drives().length;
    const r = await runFaceedge(['gpio', 'safe', '--config', configFile], { env: gpioEnv });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('relay=off');
    expect(drives().length).toBeGreaterThan(n);
    expect(drives().at(-1)).toMatchObject({ what: '0' });
    expect(sim.level(CHIP, RELAY)).toBe(0);
    expect(sim.holder(CHIP, RELAY)).toBeNull();
  });
});
