/** CurrentModelWatcher on a real model store: an install or rollback from another process is noticed via inotify. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CurrentModelWatcher } from '../../src/model-push/current-model-watcher.js';
import { installModel } from '../../src/model-push/install-model.js';
import { ModelStore, type InstalledModel } from '../../src/model-push/model-store.js';
import {
  copyModelPackage,
  modelPackageSource,
  NO_MODEL_PACKAGE_REASON,
  signPackage,
} from '../helpers/model-package-fixture.js';
import { runCli } from '../helpers/run-cli.js';

const SOURCE = modelPackageSource();
const work = mkdtempSync(join(tmpdir(), 'faceedge-watch-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const { privateKey, publicKey } = generateKeyPairSync('ed25519');

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!SOURCE)(`CurrentModelWatcher (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  it('reports installs and rollbacks made by another process, once each, and not what was current at start', async () => {
    const store = new ModelStore(join(work, 'models'));
    const pkg = (id: string) => {
      const dir = copyModelPackage(SOURCE!, join(work, id), id);
      signPackage(dir, privateKey);
      return dir;
    };
    const trust = { trustedKeys: [publicKey] };
    await installModel(store, pkg('w-one'), trust);
    const seen: InstalledModel[] = [];
    // Poll disabled in effect (1 h): only inotify can deliver these.
    const watcher = new CurrentModelWatcher({ store, onChange: (m) => void seen.push(m), pollMs: 3_600_000 });
    await watcher.start();
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toEqual([]);
      const pub = join(work, 'pub.pem');
      writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
      const installed = await runCli([
        'model',
        'install',
        pkg('w-two'),
        '--models-dir',
        store.root,
        '--public-key',
        pub,
      ]);
      expect(installed.code, installed.stderr).toBe(0);
      await until(() => seen.length === 1);
      expect(seen[0].manifest.id).toBe('w-two');
      expect(seen[0].modelPath).toBe((await store.current())!.modelPath);
      const rolled = await runCli(['model', 'rollback', '--models-dir', store.root]);
      expect(rolled.code, rolled.stderr).toBe(0);
      await until(() => seen.length === 2);
      expect(seen[1].manifest.id).toBe('w-one');
      await watcher.sync();
      expect(seen).toHaveLength(2);
    } finally {
      watcher.stop();
    }
  });

  it('sync() hands a failed reload to its caller whichever trigger ran it (the MQTT receiver reports it), and does not retry it', async () => {
    const store = new ModelStore(join(work, 'models-fail'));
    const dir = copyModelPackage(SOURCE!, join(work, 'f-one'), 'f-one');
    signPackage(dir, privateKey);
    let calls = 0;
    const watcher = new CurrentModelWatcher({
      store,
      onChange: () => {
        calls++;
        throw new Error('delegate refused it');
      },
      pollMs: 3_600_000,
    });
    await watcher.start();
    try {
      await installModel(store, dir, { trustedKeys: [publicKey] });
      // inotify may have run the reload before this call: the caller still gets its outcome.
      await expect(watcher.sync()).rejects.toThrow('delegate refused it');
      await expect(watcher.sync()).rejects.toThrow('delegate refused it');
      expect(calls).toBe(1);
    } finally {
      watcher.stop();
    }
  });
});
