/**
 * `faceedge run --demo` serves the live view on loopback and prints its URL: on the port of
 * `--http-port`, of `FACEEDGE_HTTP__PORT`, or by default on 9464 (any free port when that one is taken).
 * Before, the demo forced `http.port: 0` after reading both, so neither could turn the page on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { httpGet } from '../helpers/http-get.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const TSX_LOADER = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** `faceedge run --demo --loop …` with the given extra arguments and environment, its stdout collected. */
function startDemo(args: readonly string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FACEEDGE_')));
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', TSX_LOADER, join(REPO_ROOT, 'src/cli/main.ts'), 'run', '--demo', '--loop', ...args],
    { cwd: REPO_ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const liveViewUrl = async (timeoutMs = 90_000): Promise<string> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const url = /^live view: (http:\/\/\S+)/m.exec(stdout)?.[1];
      if (url) return url;
      if (Date.now() > until)
        throw new Error(`no live view URL printed\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { child, exited, liveViewUrl, output: () => `${stdout}\n${stderr}` };
}

const classifier = testClassifierPath();

describe.skipIf(!classifier)(`faceedge run --demo and the live view (${classifier ?? NO_CLASSIFIER_REASON})`, () => {
  let demo: ReturnType<typeof startDemo> | null = null;
  afterEach(async () => {
    demo?.child.kill('SIGKILL');
    await demo?.exited;
    demo = null;
  });

  /** The page and one camera picture answer at `url`; then Ctrl-C ends the demo cleanly. */
  async function expectLiveView(url: string): Promise<void> {
    const port = Number(new URL(url).port);
    const page = await httpGet(port, '/live/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('live-view.js');
    // The URL is printed before the cameras start: until the first frame, a picture is 503 (none yet).
    let picture = await httpGet(port, '/live/cameras/demo1/frame.jpg');
    for (const until = Date.now() + 60_000; picture.status === 503 && Date.now() < until;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      picture = await httpGet(port, '/live/cameras/demo1/frame.jpg');
    }
    expect(picture.status).toBe(200);
    demo!.child.kill('SIGINT');
    expect(await demo!.exited, demo!.output()).toBe(0);
  }

  it('--http-port P serves the live view on P and prints its URL', async () => {
    const port = await freePort();
    demo = startDemo(['--http-port', String(port)]);
    const url = await demo.liveViewUrl();
    expect(url).toBe(`http://127.0.0.1:${port}/live/`);
    await expectLiveView(url);
  }, 150_000);

  it('FACEEDGE_HTTP__PORT is honoured the same way', async () => {
    const port = await freePort();
    demo = startDemo([], { FACEEDGE_HTTP__PORT: String(port) });
    expect(await demo.liveViewUrl()).toBe(`http://127.0.0.1:${port}/live/`);
    await expectLiveView(await demo.liveViewUrl());
  }, 150_000);

  it('without either, the live view is on by default, on loopback', async () => {
    demo = startDemo([]);
    const url = await demo.liveViewUrl();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/live\/$/);
    await expectLiveView(url);
  }, 150_000);
});
