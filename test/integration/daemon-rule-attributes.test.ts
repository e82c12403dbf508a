/**
 * The start check of rules on attributes (issue 24 §3) in the real daemon: a rule asking a model for a
 * label its manifest does not have could never fire, so `faceedge run` refuses to start with
 * CONFIG_INVALID, naming the model's labels (read from the manifest at start, not from the config), and
 * closes what it had started. The same board with labels the model has starts, and the rule fires on the
 * second model's decision of a real face (GPIO through the libgpiod stand-ins).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { DaemonProcess, daemonConfig } from '../helpers/daemon-process.js';
import { EmulatedGpio } from '../helpers/emulated-gpio.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');
const INT8 = join(REPO_ROOT, 'models/faceedge-gender_int8.tflite');

/** A board with two models (the shipped gender model under two names) and a rule on the second one's labels. */
function board(stateDir: string, labels: string[]): Record<string, unknown> {
  return daemonConfig({
    stateDir,
    cameras: [{ name: 'walk', source: { type: 'gif', path: CLIP, loop: true } }],
    extra: {
      models: { require_signature: false },
      classifiers: [
        { name: 'gender', model: INT8 },
        { name: 'second', model: INT8, interval_ms: 1000 },
      ],
      gpio: { backend: 'libgpiod', chip: 'pinctrl-rp1', outputs: { chime: { line: 5 } } },
      rules: [{ id: 'ask-second', when: { attributes: { second: labels } }, then: { output: 'chime', pulse_ms: 500 } }],
    },
  });
}

describe('the daemon checks rules on attributes against the manifests at start', () => {
  let dir: string;
  let daemon: DaemonProcess | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-rule-attributes-'));
  });
  afterEach(async () => {
    await daemon?.dispose();
    daemon = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start on a label the model does not have', { timeout: 120_000 }, async () => {
    daemon = DaemonProcess.start(board(join(dir, 'state'), ['female', '13-19']), { dir });
    const exit = await daemon.exited;
    expect(exit.code, daemon.describe()).not.toBe(0);
    const said = `${daemon.stderr}\n${daemon.logs.map((l) => l.msg).join('\n')}`;
    expect(said).toContain(
      'rules.0.when.attributes.second: rule ask-second: model "second" has no label "13-19" (its labels: female, male, unknown)',
    );
    expect(daemon.logs.some((l) => l.msg === 'faceedge running')).toBe(false);
  });

  it("starts with labels the model has, and fires on the second model's decision", { timeout: 180_000 }, async () => {
    const sim = new EmulatedGpio({
      version: '2.1.3',
      interactive: true,
      release: 'keep',
      chips: [{ name: 'gpiochip0', label: 'pinctrl-rp1', lines: 54 }],
    });
    const simEnv = sim.env();
    const env = Object.fromEntries(
      ['PATH', 'FACEEDGE_GPIO_SIM', 'FACEEDGE_GPIO_SIM_VERSION', 'FACEEDGE_GPIO_SIM_INTERACTIVE'].map((k) => [
        k,
        simEnv[k] ?? '',
      ]),
    );
    daemon = DaemonProcess.start(board(join(dir, 'state'), ['female', 'male', 'unknown']), { dir, env });
    onTestFinished(() => sim.remove());
    await daemon.waitRunning(90_000);
    const fired = await daemon.waitForLog((l) => l.msg.startsWith('rule ask-second: pulse chime'), 90_000, 'the rule');
    // The reason names the second model's decision: `, second female 0.93 (new)`.
    expect(fired.msg).toMatch(/, second (female|male|unknown) \d\.\d\d \((new|update)\)\)$/);
  });
});
