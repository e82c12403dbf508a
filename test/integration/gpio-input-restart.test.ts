/**
 * An input's gpiomon that dies is restarted (after reading the level again), and stopping the input frees
 * the line even when it lands in the middle of such a restart: stop() resolving means no process of ours
 * holds the line, so a restarted daemon, or the next owner of the line, can request it at once. Real
 * processes through the libgpiod stand-ins (test/stand-ins), v1 and v2 syntax.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { CdevInputSource } from '../../src/gpio/cdev-input-source.js';
import { detectLibgpiod } from '../../src/gpio/libgpiod-tools.js';
import { EmulatedGpio, waitUntil } from '../helpers/emulated-gpio.js';

const CHIP = 'gpiochip0';
const OFFSET = 6;

describe.each(['1.6.3', '2.1.3'])('an input on libgpiod %s', (version) => {
  async function startInput(env: Record<string, string> = {}, restartDelayMs = 50) {
    const sim = new EmulatedGpio({ version, chips: [{ name: CHIP, label: 'pinctrl-rp1', lines: 54 }] });
    onTestFinished(() => sim.remove());
    const simEnv = { ...sim.env(), ...env };
    const tools = await detectLibgpiod(simEnv);
    const problems: string[] = [];
    const levels: boolean[] = [];
    const source = new CdevInputSource({
      tools,
      line: { chip: CHIP, offset: OFFSET, activeLow: false, consumer: 'faceedge-test' },
      bias: 'as-is',
      env: simEnv,
      restartDelayMs,
      onProblem: (message) => problems.push(message),
    });
    onTestFinished(() => source.stop());
    const initial = await source.start((value) => levels.push(value));
    await waitUntil(() => sim.holderProgram(CHIP, OFFSET) === 'gpiomon', 'gpiomon to hold the line', 10_000);
    return { sim, source, initial, problems, levels };
  }

  it('restarts a gpiomon that died, reporting why, and reports a change made while it was down', async () => {
    const { sim, initial, problems, levels } = await startInput({}, 500);
    expect(initial).toBe(false);
    const first = sim.holder(CHIP, OFFSET)!;
    process.kill(first, 'SIGKILL');
    // The report comes once the watchdog has ended (gpiomon reaped): only then is `first` surely gone, so the
    // gpiomon holding the line after it is a new one (a check reading the holder twice races the kill).
    await waitUntil(() => problems.length > 0, "gpiomon's end to be reported", 10_000);
    expect(problems.join('\n')).toMatch(/gpiomon for gpiochip0\/6 exited \(137\)/); // 128 + SIGKILL, through the watchdog
    sim.drive(CHIP, OFFSET, 1); // while nobody watches (the restart waits 500 ms): only its read can see it
    await waitUntil(() => sim.holderProgram(CHIP, OFFSET) === 'gpiomon', 'a new gpiomon', 10_000);
    expect(sim.holder(CHIP, OFFSET)).not.toBe(first);
    await waitUntil(() => levels.includes(true), 'the level read again at the restart', 5000);
  });

  it('stopped in the middle of a restart, frees the line before resolving and starts nothing after', async () => {
    // The restart's gpioget keeps the line for 0.6 s, as a slow board's may.
    const { sim, source } = await startInput({ FACEEDGE_GPIO_SIM_GET_HOLD_S: '0.6' });
    process.kill(sim.holder(CHIP, OFFSET)!, 'SIGKILL');
    await waitUntil(() => sim.holderProgram(CHIP, OFFSET) === 'gpioget', "the restart's gpioget", 10_000);

    await source.stop();
    expect(sim.holder(CHIP, OFFSET)).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sim.holder(CHIP, OFFSET)).toBeNull();
  });

  it('stopped right after it started, again and again: every stop resolves and frees the line', async () => {
    const sim = new EmulatedGpio({ version, chips: [{ name: CHIP, label: 'pinctrl-rp1', lines: 54 }] });
    onTestFinished(() => sim.remove());
    const env = sim.env();
    const tools = await detectLibgpiod(env);
    for (let i = 0; i < 25; i++) {
      const source = new CdevInputSource({
        tools,
        line: { chip: CHIP, offset: OFFSET, activeLow: false, consumer: 'faceedge-test' },
        bias: 'as-is',
        env,
      });
      await source.start(() => {});
      // At once: the watchdog may not have set its trap yet (a signal then killed it alone, and gpiomon ran on).
      const outcome = await Promise.race([
        source.stop().then(() => 'stopped'),
        new Promise((resolve) => setTimeout(() => resolve('still running after 10 s'), 10_000)),
      ]);
      expect(outcome, `stop #${i + 1}`).toBe('stopped');
      expect(sim.holder(CHIP, OFFSET), `stop #${i + 1}`).toBeNull();
    }
  }, 300_000);

  it('stopped while gpiomon runs, resolves only once gpiomon has let go of the line', async () => {
    const { sim, source } = await startInput();
    const monitor = sim.holder(CHIP, OFFSET)!;
    await source.stop();
    expect(sim.holder(CHIP, OFFSET)).toBeNull();
    expect(() => process.kill(monitor, 0)).toThrow(); // gone, not merely signalled
  });
});
