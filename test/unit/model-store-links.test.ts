/**
 * The model store's `current` / `previous` links across install, rollback to `classifier.model` and a
 * second install. Fleet-sim found boards that a rollout had rolled back to their configured model, then
 * got a second package and were rolled back again — onto the first package, a stale `previous`.
 */
import { mkdir, mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelStore } from '../../src/model-push/model-store.js';

const link = (store: ModelStore, name: 'current' | 'previous') =>
  readlink(join(store.root, name)).then(
    (t) => t.replace(/^versions\//, ''),
    () => null,
  );

describe('ModelStore links', () => {
  let root: string;
  let store: ModelStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'faceedge-store-'));
    store = new ModelStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  /** A staged package folder (the links only need it to exist). */
  const staged = async (tag: string) => {
    const dir = await store.stage();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'marker'), tag);
    return dir;
  };

  it('an install after a rollback to classifier.model leaves no previous: its rollback goes back to classifier.model', async () => {
    await store.activate(await staged('a'), 'pkg-a');
    expect([await link(store, 'current'), await link(store, 'previous')]).toEqual(['pkg-a', null]);
    await store.retireCurrent(); // the rollback of a first install: classifier.model serves again
    expect([await link(store, 'current'), await link(store, 'previous')]).toEqual([null, 'pkg-a']);

    await store.activate(await staged('b'), 'pkg-b');
    // What it replaced was classifier.model, not pkg-a: a rollback must not switch to pkg-a.
    expect([await link(store, 'current'), await link(store, 'previous')]).toEqual(['pkg-b', null]);
    expect(await store.versions()).toEqual(['pkg-b']);
  });

  it('an install over an installed model keeps that model as previous', async () => {
    await store.activate(await staged('a'), 'pkg-a');
    await store.activate(await staged('b'), 'pkg-b');
    expect([await link(store, 'current'), await link(store, 'previous')]).toEqual(['pkg-b', 'pkg-a']);
    expect(await store.versions()).toEqual(['pkg-a', 'pkg-b']);
  });
});
