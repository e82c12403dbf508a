/**
 * A pair (the image model and its head on the face embedding, issue 24 §3) installed into a model store as one
 * version: both serve from `current`, a rollback takes both back, and each refusal (unsigned head, wrong labels,
 * another embedder, paired with another image model, no head slot, a head that fails its self-test) leaves the
 * serving pair as it was. The shipped age pair (models/age/), signed with a test key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { installModel, rollbackModel, type VerifyOptions } from '../../src/model-push/install-model.js';
import { ModelStore } from '../../src/model-push/model-store.js';
import {
  ageHeadPackage,
  ageImagePackage,
  agePairMissing,
  agePairPackage,
  shippedEmbedder,
} from '../helpers/age-pair-fixture.js';

const missing = agePairMissing();
const OTHER_SHA = 'ab'.repeat(32);

describe.skipIf(missing !== null)(
  `installing an age pair into a model store (${missing ?? 'models/age present'})`,
  () => {
    const work = mkdtempSync(join(tmpdir(), 'faceedge-head-install-'));
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const stranger = generateKeyPairSync('ed25519').privateKey;
    const options: VerifyOptions = {
      trustedKeys: [publicKey],
      head: { slot: true, embedder: async () => shippedEmbedder() },
    };
    let n = 0;
    const fresh = () => join(work, `p${n++}`);
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    async function refusal(store: ModelStore, pkg: string, o: VerifyOptions = options) {
      const before = (await store.current())?.name ?? null;
      const err = await installModel(store, pkg, o).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isFaceedgeError(err), String(err)).toBe(true);
      expect((await store.current())?.name ?? null).toBe(before); // the serving pair is untouched
      return err as Error & { code: string; hint?: string };
    }

    it('installs the pair as one version; after the image model alone, a rollback restores both together', async () => {
      const store = new ModelStore(fresh());
      const report = await installModel(store, agePairPackage(fresh(), privateKey), options);
      expect(report.head?.id).toBe('faceedge-age-head');
      expect(report.head?.signedBy).toBe(report.signedBy);
      const first = await store.current();
      expect(first?.head?.modelPath).toBe(join(first!.dir, 'head', 'faceedge-age-head_float32.tflite'));
      expect(existsSync(first!.head!.manifestPath)).toBe(true);

      // The image model pushed alone afterwards: a new version without a head (the configured head, unpaired).
      await installModel(store, ageImagePackage(fresh(), privateKey, 'faceedge-age-retrained'), options);
      expect((await store.current())?.head).toBeNull();
      // Rollback restores what was installed together: the pair's image model and its head.
      const back = await rollbackModel(store);
      expect(back.current.name).toBe(first?.name);
      expect(back.current.head?.modelPath).toBe(first?.head?.modelPath);
      expect(readFileSync(back.current.head!.modelPath)).toEqual(readFileSync(first!.head!.modelPath));
    }, 60_000);

    it('refuses an unsigned head, and a head signed by a key the board does not trust', async () => {
      const store = new ModelStore(fresh());
      const unsigned = await refusal(store, agePairPackage(fresh(), privateKey, undefined, null));
      expect(unsigned.code).toBe('MODEL_SIGNATURE_INVALID');
      expect(unsigned.message).toMatch(/no manifest.sig/);
      const foreign = await refusal(store, agePairPackage(fresh(), privateKey, undefined, stranger));
      expect(foreign.code).toBe('MODEL_SIGNATURE_INVALID');
      expect(foreign.message).toMatch(/does not trust/);
    }, 60_000);

    it("refuses a head whose labels are not the model's", async () => {
      const store = new ModelStore(fresh());
      const pkg = agePairPackage(fresh(), privateKey, (m) => (m.labels = [...(m.labels as string[])].reverse()));
      const err = await refusal(store, pkg);
      expect(err.code).toBe('MODEL_INVALID');
      expect(err.message).toMatch(/labels/);
    }, 60_000);

    it('refuses a head pinned to another embedder than the board runs', async () => {
      const store = new ModelStore(fresh());
      const pkg = agePairPackage(fresh(), privateKey, (m) => {
        (m.input as { embedder: { sha256: string } }).embedder.sha256 = OTHER_SHA;
      });
      const err = await refusal(store, pkg);
      expect(err.code).toBe('MODEL_INVALID');
      expect(err.message).toMatch(/does not fit the running embedder/);
      // Flip off on the board, on in the head: refused as well.
      const flipOff = {
        ...options,
        head: { slot: true, embedder: async () => ({ ...shippedEmbedder(), flipAverage: false }) },
      };
      expect((await refusal(store, agePairPackage(fresh(), privateKey), flipOff)).message).toMatch(/flip/);
    }, 60_000);

    it('refuses a head paired with another image model, with the hint to push the pair', async () => {
      const store = new ModelStore(fresh());
      const pkg = agePairPackage(fresh(), privateKey, (m) => {
        (m.combination as { with: { sha256: string } }).with.sha256 = OTHER_SHA;
      });
      const err = await refusal(store, pkg);
      expect(err.code).toBe('MODEL_INVALID');
      expect(err.message).toMatch(/is paired with image model abababababab/);
      expect(err.hint).toMatch(/--head/);
    }, 60_000);

    it('refuses a head for a model without a head slot', async () => {
      const store = new ModelStore(fresh());
      const err = await refusal(store, agePairPackage(fresh(), privateKey), { ...options, head: { slot: false } });
      expect(err.message).toMatch(/no head slot/);
    }, 60_000);

    it('refuses a head that does not reproduce its golden logits', async () => {
      const store = new ModelStore(fresh());
      const pkg = agePairPackage(fresh(), privateKey, (m) => {
        const cases = m.selftest as Array<{ expected_logits: number[] }>;
        cases[0].expected_logits = cases[0].expected_logits.map((z) => z + 1);
      });
      expect((await refusal(store, pkg)).code).toBe('MODEL_SELFTEST_FAILED');
    }, 60_000);

    it('refuses a head file that is not the one its manifest lists', async () => {
      const store = new ModelStore(fresh());
      const pkg = agePairPackage(fresh(), privateKey);
      writeFileSync(join(pkg, 'head', 'faceedge-age-head_float32.tflite'), Buffer.alloc(16));
      expect((await refusal(store, pkg)).code).toBe('MODEL_CHECKSUM_MISMATCH');
    }, 60_000);

    it('installs a head given beside the image package (--head) as the same pair', async () => {
      const store = new ModelStore(fresh());
      const head = ageHeadPackage(fresh(), privateKey);
      const report = await installModel(store, ageImagePackage(fresh(), privateKey), options, head);
      expect(report.head?.id).toBe('faceedge-age-head');
      expect((await store.current())?.head).not.toBeNull();
    }, 60_000);
  },
);
