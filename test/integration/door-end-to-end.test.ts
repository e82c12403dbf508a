/**
 * The door end to end (issue 23 §5): `faceedge run` as a child process with recognition on (an encrypted
 * gallery made here from faces-dev people), the GPIO stand-ins (emulated libgpiod lines) holding a
 * `lock: true` output, a person rule `camera: door, person: [<enrolled>] → pulse door_lock`, and a real
 * Mosquitto. Each case is its own daemon run over its own state_dir, showing camera `door` one still:
 *
 * - the enrolled person's other photo: the lock pulses once and ends locked; `<dev>/access` and the access
 *   log say granted;
 * - a stranger's photo: never opens; denied, `unknown`, and no similarity of that face leaves the board;
 * - a printed-photo stand-in of the enrolled person: never opens; denied, `not_live`.
 *
 * The people and photos are picked by measuring here (as daemon-recognition.test.ts does), so that the test
 * is about the door, not the models' accuracy: the enrolled person's two photos match above the threshold,
 * the stranger stays well below it, the still the camera shows passes the anti-spoofing network clearly and
 * its print stand-in fails it clearly. Every outcome is read from the emulated line, the broker or the file,
 * polled with generous timeouts (the machine is loaded). Skips, saying why, where faces-dev is absent.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/capture/decode-image.js';
import { cosineSimilarity, FaceEmbedder } from '../../src/inference/face-embedder.js';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { shippedEmbedderPath } from '../../src/inference/shipped-model.js';
import { AntiSpoofNetwork } from '../../src/liveness/anti-spoof-network.js';
import { photoFace } from '../../src/recognition/gallery-photo.js';
import type { AccessRecord } from '../../src/rules/access-decision.js';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { EmulatedGpio, waitUntil } from '../helpers/emulated-gpio.js';
import { NO_FACES_DEV, usablePeople, writeTestGallery } from '../helpers/faces-dev-gallery.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const classifier = testClassifierPath();
const skip = NO_FACES_DEV ?? (classifier ? null : NO_CLASSIFIER_REASON);

/** The project's stand-in renderer runs on Debian's Python with numpy and Pillow (common.md). */
const PYTHON = '/usr/bin/python3';
const rendererProbe = spawnSync(PYTHON, ['-c', 'import numpy, PIL'], { encoding: 'utf8' });
const NO_RENDERER =
  rendererProbe.status === 0
    ? null
    : `the attack stand-in renderer needs ${PYTHON} with numpy and Pillow (${(rendererProbe.stderr || String(rendererProbe.error)).trim().split('\n').at(-1)})`;

const ROOT = `faceedge/${TEST_DEVICE}`;
const ACCESS_TOPIC = `${ROOT}/access`;
const CHIP = 'gpiochip0';
const LOCK_LINE = 17;
const PULSE_MS = 400;
/** Margins around the anti-spoofing threshold (0.5) that the chosen stills must clear, so one run is not luck. */
const LIVE_AT_LEAST = 0.75;
const ATTACK_AT_MOST = 0.25;

/**
 * The stand-in kinds the passive network mostly stops, in order of preference, with their measured detection
 * rate (models/liveness/README.md, "Measured", V1SE on 100 renders of faces-dev validation photos). One pass
 * here shows the door refuses what the check detects; it is no guarantee for a given print: about 1 in 8
 * arm's-length prints got through in that measurement.
 */
const ATTACKS = [
  { folder: 'print-held', what: 'a halftone print held at arm’s length (edges and room in view)', detected: '87.0 %' },
  { folder: 'screen-held', what: 'a photo on an LCD with its bezel and the room in view', detected: '99.0 %' },
] as const;

/** Renders the attack stand-ins of `photos` (attack_renders.py, seed 0) into `out`. */
function renderAttacks(photos: readonly string[], out: string): void {
  const r = spawnSync(PYTHON, ['-m', 'faceedge_train.liveness.attack_renders', '--out', out, ...photos], {
    cwd: join(REPO_ROOT, 'train'),
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`attack_renders failed: ${r.stderr || String(r.error)}`);
}

interface Chosen {
  enrolled: string;
  /** The enrolled person's other photo: what the camera shows in the granted case. */
  still: string;
  stranger: string;
  /** The stand-in of `still`, and which attack it stands for; null where the renderer cannot run. */
  attack: { file: string; what: string; detected: string; live: number } | null;
  measured: Record<string, number>;
}

describe.skipIf(skip !== null)(`the door end to end (${skip ?? 'faces-dev and a classifier present'})`, () => {
  let dir: string;
  let broker: Mosquitto;
  let keyFile: string;
  let galleryFile: string;
  let chosen: Chosen;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-door-'));
    broker = await Mosquitto.start();
    const embedder = await FaceEmbedder.create({ modelPath: shippedEmbedderPath() });
    // The daemon below runs the short-range detector too: the measurement sees the boxes it will see.
    const detector = await FaceDetector.create({ model: 'short' });
    const network = await AntiSpoofNetwork.create({
      modelPath: join(REPO_ROOT, 'models/liveness/minifasnet-v1se-80_float32.tflite'),
    });
    try {
      /** P(live) of the largest face in `file`, as the daemon's crop sees it; null when no face is found. */
      const live = async (file: string) => {
        const image = await decodeImage(await readFile(file), basename(file));
        const [face] = await detector.detect(image);
        return face ? (await network.score(image, face.box)).live : null;
      };
      const usable = await usablePeople({ detector, embedder });
      const { threshold } = embedder;
      const measured: Record<string, number> = {};
      const candidates: (typeof usable)[number][] = [];
      for (const p of usable) {
        if (cosineSimilarity(p[2][0], p[2][1]) < threshold + 0.01) continue;
        const score = await live(p[1][1]);
        if (score !== null) measured[`live ${basename(p[1][1])}`] = score;
        if (score !== null && score >= LIVE_AT_LEAST) candidates.push(p);
      }
      if (candidates.length === 0) throw new Error(`no enrolled candidate matches and passes liveness clearly`);

      // The attack: the first candidate whose still's stand-in the network refuses clearly, kind by kind.
      let person = candidates[0];
      let attack: Chosen['attack'] = null;
      if (NO_RENDERER === null) {
        const renders = join(dir, 'renders');
        renderAttacks(
          candidates.map((c) => c[1][1]),
          renders,
        );
        search: for (const kind of ATTACKS) {
          for (const c of candidates) {
            const file = join(renders, kind.folder, `${basename(c[1][1], '.jpg')}.jpg`);
            const score = await live(file);
            if (score !== null) measured[`${kind.folder} ${basename(file)}`] = score;
            if (score === null || score > ATTACK_AT_MOST) continue;
            // It must still be recognized as the person, so that the refusal is the liveness check's doing.
            const seen = await photoFace(file, { detector, embedder }, { purpose: 'identify' });
            const similarity = seen.usable ? cosineSimilarity(seen.embedding, c[2][0]) : -1;
            measured[`${kind.folder} similarity ${basename(file)}`] = similarity;
            if (similarity >= threshold + 0.01) {
              person = c;
              attack = { file, what: kind.what, detected: kind.detected, live: score };
              break search;
            }
          }
        }
        if (!attack) throw new Error(`no stand-in the network refuses clearly: ${JSON.stringify(measured)}`);
      }
      const stranger = usable.find((p) => p !== person && cosineSimilarity(person[2][0], p[2][0]) < threshold - 0.05);
      if (!stranger) throw new Error('no faces-dev stranger clearly below the threshold');
      chosen = { enrolled: `person-${person[0]}`, still: person[1][1], stranger: stranger[1][0], attack, measured };

      keyFile = join(dir, 'gallery.key');
      galleryFile = join(dir, 'faces.gallery');
      await writeTestGallery({
        keyFile,
        galleryFile,
        model: { id: embedder.id, dimensions: embedder.dimensions },
        people: [[chosen.enrolled, [person[2][0]]]],
      });
    } finally {
      await embedder.close();
      await detector.close();
      await network.close();
    }
  }, 300_000);

  afterAll(async () => {
    await broker?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * One daemon run with camera `door` showing `still` (looped, so one track), the person rule and the lock;
   * returns the first access decision, from `<dev>/access`, the access log and the line's drives.
   */
  async function atTheDoor(name: string, still: string) {
    const state = join(dir, name);
    mkdirSync(state);
    const sim = new EmulatedGpio({
      version: '2.1.3',
      interactive: true,
      release: 'keep',
      chips: [{ name: CHIP, label: 'pinctrl-rp1', lines: 54 }],
    });
    const env = sim.env();
    const gpioEnv = Object.fromEntries(
      ['PATH', 'FACEEDGE_GPIO_SIM', 'FACEEDGE_GPIO_SIM_VERSION', 'FACEEDGE_GPIO_SIM_INTERACTIVE'].map((k) => [
        k,
        env[k] ?? '',
      ]),
    );
    const config = daemonConfig({
      brokerUrl: broker.url,
      stateDir: state,
      cameras: [{ name: 'door', source: { type: 'image', path: still, loop: true, fps: 5 } }],
      extra: {
        detector: { model: 'short' },
        recognition: { enabled: true, key_file: keyFile, gallery: galleryFile },
        gpio: { backend: 'libgpiod', chip: 'pinctrl-rp1', outputs: { door_lock: { line: LOCK_LINE, lock: true } } },
        rules: [
          {
            id: 'front-door',
            when: { camera: 'door', person: [chosen.enrolled] },
            then: { output: 'door_lock', pulse_ms: PULSE_MS },
          },
        ],
      },
    });
    const probe = await MqttProbe.connect(broker.url, [ACCESS_TOPIC, `${ROOT}/door/events`, `${ROOT}/door/person`]);
    const daemon = DaemonProcess.start(config, { dir, classifier: classifier!, env: gpioEnv, file: `${name}.yaml` });
    try {
      await daemon.waitRunning(120_000);
      expect(sim.level(CHIP, LOCK_LINE), 'the lock starts locked').toBe(0);
      const published = await probe.waitFor((m) => m.topic === ACCESS_TOPIC, 150_000, `a decision (${name})`);
      const record = JSON.parse(published.text) as AccessRecord & Record<string, unknown>;
      const drives = () =>
        sim
          .log(CHIP, LOCK_LINE)
          .filter((e) => e.what !== 'release')
          .map((e) => e.what);
      if (record.outcome === 'granted')
        await waitUntil(() => drives().join(',') === '0,1,0', 'the pulse to end locked', 30_000);
      // The stop drives the lock to its safe state again ('0' more than once): pulses are the '1's.
      // Decided once per track: the still's later frames change nothing (a second pulse would show in `drives`).
      daemon.signal('SIGTERM');
      expect((await daemon.exited).code).toBe(0);
      expect(sim.level(CHIP, LOCK_LINE), 'locked after the run').toBe(0);
      const logFile = join(state, 'access.log');
      const logged = readFileSync(logFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as AccessRecord & Record<string, unknown>);
      expect(statSync(logFile).mode & 0o777).toBe(0o600);
      const access = probe.on(ACCESS_TOPIC).map((m) => JSON.parse(m.text) as AccessRecord & Record<string, unknown>);
      // Everything this run published about the face: its events' snapshots and the retained `door/person`.
      const aboutTheFace = probe.messages
        .filter((m) => !m.retain && m.topic !== ACCESS_TOPIC)
        .flatMap((m) => {
          const p = JSON.parse(m.text) as { after?: { person?: unknown }; similarity?: unknown };
          return m.topic.endsWith('/events') ? [p.after?.person] : [p];
        });
      const all = drives();
      return {
        record,
        logged,
        access,
        published: aboutTheFace,
        drives: all,
        pulses: all.filter((d) => d === '1').length,
        logs: daemon.logs,
      };
    } finally {
      await daemon.dispose();
      await probe.close();
    }
  }

  it('the enrolled person opens the lock once, and it ends locked; granted on <dev>/access and in the log', async () => {
    const run = await atTheDoor('enrolled', chosen.still);
    expect(run.record).toMatchObject({
      event: 'access_granted',
      outcome: 'granted',
      reason: 'granted',
      person: chosen.enrolled,
      camera: 'door',
      rule: 'front-door',
      liveness: 'live',
    });
    expect(run.pulses, `one pulse (drives ${run.drives.join(',')})`).toBe(1);
    expect(run.drives.slice(0, 3), 'safe, open, locked').toEqual(['0', '1', '0']);
    expect(run.drives.at(-1)).toBe('0');
    expect(run.logged).toEqual(run.access);
    expect(run.logged.map((r) => r.event)).toEqual(['access_granted']);
    expect(run.record.similarity).toBeGreaterThan(0.9); // a named person's similarity may leave the board
  }, 420_000);

  it('a stranger does not open it: denied as unknown; no similarity of that face on access, events or person', async () => {
    const run = await atTheDoor('stranger', chosen.stranger);
    expect(run.record).toMatchObject({ event: 'access_denied', reason: 'unknown', person: null, camera: 'door' });
    expect(
      run.drives.every((d) => d === '0'),
      `the line never left its safe state (${run.drives.join(',')})`,
    ).toBe(true);
    // The board's own log (0600) keeps the similarity; what leaves the board does not carry it.
    expect(typeof run.logged[0].similarity).toBe('number');
    for (const r of run.access) expect(r.similarity).toBeNull();
    expect(run.published.length).toBeGreaterThan(0);
    for (const p of run.published) expect(p, 'events and door/person').toMatchObject({ similarity: null });
  }, 420_000);

  it.skipIf(NO_RENDERER !== null)(
    `a printed-photo stand-in of the enrolled person does not open it${NO_RENDERER ? ` (skipped: ${NO_RENDERER})` : ''}`,
    async () => {
      // A render made here by train/faceedge_train/liveness/attack_renders.py from the enrolled person's own
      // still, not a recording of a real attack; `chosen.attack.what` names the kind (see ATTACKS for its
      // measured detection rate: one refusal here is what the check can tell, not a guarantee).
      const attack = chosen.attack!;
      const run = await atTheDoor('attack', attack.file);
      expect(run.record, `${attack.what}, P(live) ${attack.live.toFixed(3)} measured`).toMatchObject({
        event: 'access_denied',
        reason: 'not_live',
        person: chosen.enrolled,
        camera: 'door',
        liveness: 'attack',
      });
      expect(
        run.drives.every((d) => d === '0'),
        `the line never left its safe state (${run.drives.join(',')})`,
      ).toBe(true);
      expect(run.logged.map((r) => r.reason)).toEqual(['not_live']);
    },
    420_000,
  );
});
