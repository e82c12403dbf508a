/**
 * The model commands with a pair (issue 24 §3), as a site integrator runs them: `model verify` checks the head
 * beside its image model, `model install --head` installs both as one version and `model list` shows the head,
 * `model rollback` takes both back, and `model push` over SSH refuses a head (it travels over MQTT only) with the
 * command to use instead, and `fleet push` of a head package says to push the image model with `--head`. The shipped age pair, signed with a test key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ageHeadPackage, ageImagePackage, agePairMissing, agePairPackage } from '../helpers/age-pair-fixture.js';
import { hasStackTrace, runCli } from '../helpers/run-cli.js';

const missing = agePairMissing();

describe.skipIf(missing !== null)(`model commands with a pair (${missing ?? 'models/age present'})`, () => {
  const work = mkdtempSync(join(tmpdir(), 'faceedge-pair-cli-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = join(work, 'signing.pub.pem');
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  const store = join(work, 'store');
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('verifies, installs, lists and rolls back a pair; refuses a head over SSH', async () => {
    const pair = agePairPackage(join(work, 'pair'), privateKey);
    const verified = await runCli(['model', 'verify', pair, '--public-key', pub]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/head faceedge-age-head ok \(labels, pairing, self-test\), signed by [0-9a-f]{16}/);

    const image = ageImagePackage(join(work, 'image'), privateKey, 'faceedge-age-v2');
    const first = await runCli(['model', 'install', image, '--models-dir', store, '--public-key', pub]);
    expect(first.code, first.stderr).toBe(0);
    const head = ageHeadPackage(join(work, 'head'), privateKey);
    const json = await runCli([
      'model',
      'install',
      image,
      '--head',
      head,
      '--models-dir',
      store,
      '--public-key',
      pub,
      '--json',
    ]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'ok', head: { id: 'faceedge-age-head' } });
    const listed = await runCli(['model', 'list', '--models-dir', store]);
    expect(listed.stdout).toMatch(
      /current: {2}faceedge-age-v2-[0-9a-f]{12} \(.*\) with head .*head\/faceedge-age-head_float32\.tflite/,
    );
    expect(listed.stdout).toMatch(/previous: faceedge-age-v2-[0-9a-f]{12}\n/); // the image model alone, no head

    const back = await runCli(['model', 'rollback', '--models-dir', store]);
    expect(back.code, back.stderr).toBe(0);
    const after = await runCli(['model', 'list', '--models-dir', store]);
    expect(after.stdout).toMatch(/current: {2}faceedge-age-v2-[0-9a-f]{12} \([^)]*\)\n/);
    expect(after.stdout).toMatch(/previous: faceedge-age-v2-[0-9a-f]{12} with head/);

    const ssh = await runCli(['model', 'push', image, 'pi@door-1', '--head', head]);
    expect(ssh.code).not.toBe(0);
    expect(hasStackTrace(ssh.stderr)).toBe(false);
    expect(ssh.stderr).toMatch(/a head on the embedding travels over MQTT only/);
    expect(ssh.stderr).toMatch(/--mqtt <url> --device <id> --name <model>/);

    // A fleet push takes the image model (with --head), not a head package: refused before connecting.
    const fleet = await runCli(['fleet', 'push', head, '--mqtt', 'mqtt://127.0.0.1:9', '--devices', 'p1']);
    expect(fleet.code).not.toBe(0);
    expect(hasStackTrace(fleet.stderr)).toBe(false);
    expect(fleet.stderr).toMatch(/is a head package: a fleet push takes the image model's/);
  }, 180_000);
});
