/**
 * The documented ways of starting the daemon through npm stop with it: SIGTERM to the `npx faceedge run`
 * or `npm run faceedge -- run` process (what a supervisor or `kill` sends) stops the daemon cleanly,
 * although npm's `sh -c` does not pass the signal on.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { daemonConfig } from '../helpers/daemon-process.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';
import { waitUntil } from '../helpers/wait-until.js';

const classifier = testClassifierPath();
const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!classifier)(`stopping the daemon started through npm (${classifier ?? NO_CLASSIFIER_REASON})`, () => {
  let dir: string;
  const leftovers: number[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-npm-launch-'));
  });
  afterAll(() => {
    for (const pid of leftovers) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [how, command, args] of [
    ['npx faceedge run', 'npx', ['faceedge', 'run']],
    ['npm run faceedge -- run', 'npm', ['run', '--silent', 'faceedge', '--', 'run']],
  ] as const) {
    it(`SIGTERM to \`${how}\` stops the daemon cleanly`, async () => {
      const configFile = join(dir, `${command}.yaml`);
      writeFileSync(
        configFile,
        stringify(
          daemonConfig({
            stateDir: join(dir, `state-${command}`),
            cameras: [{ name: 'walk', source: { type: 'gif', path: CLIP, loop: true } }],
          }),
        ),
      );
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('FACEEDGE_') && !k.startsWith('npm_')),
      );
      const launcher = spawn(command, [...args, '--config', configFile], {
        cwd: REPO_ROOT,
        env: {
          ...env,
          FACEEDGE_CLASSIFIER__MODEL: classifier!,
          npm_config_yes: 'true',
          npm_config_update_notifier: 'false',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      launcher.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
      launcher.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
      const lines = () =>
        output
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg: string; pid: number });
      await waitUntil(
        () => lines().some((l) => l.msg === 'faceedge running'),
        60_000,
        `"faceedge running" from ${how}\n${output.slice(-2000)}`,
      );
      const daemonPid = lines().find((l) => l.msg === 'faceedge running')!.pid;
      leftovers.push(daemonPid);
      expect(daemonPid).not.toBe(launcher.pid);

      launcher.kill('SIGTERM');
      await waitUntil(
        () => !alive(daemonPid),
        20_000,
        `the daemon (pid ${daemonPid}) to exit after SIGTERM to ${how}\n${output.slice(-2000)}`,
      );
      // It stopped through its own shutdown (tracks ended, MQTT offline), not by a broken pipe.
      expect(
        lines().some((l) => l.msg === 'faceedge stopped'),
        output.slice(-2000),
      ).toBe(true);
    }, 120_000);
  }
});
