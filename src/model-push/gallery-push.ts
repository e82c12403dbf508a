/**
 * The board's end of a gallery push (`faces/merge`): a signed gallery package (gallery-package.ts) is
 * verified against the board's trusted model-signing keys, refused when its embedding model is not the
 * board's, refused when it is older than what the board already merged from the same source, and
 * otherwise **merged** into the board's gallery (gallery-merge.ts: newer changes win, removals kept), never
 * written over it.
 *
 * The anti-rollback floor: for each source gallery (`gallery_id`), the highest version merged, kept in a
 * small JSON file under state_dir (0600, replaced atomically). A package of that source with a lower version
 * is refused: an attacker who kept an old signed gallery, in which a since-removed person was still
 * enrolled, cannot bring them back. The same version again is accepted (merging is idempotent: nothing
 * changes). Pushes are handled one at a time, so two cannot pass the floor check together.
 *
 * The floor is raised **before** the merge: if the merge then fails, the floor only refuses versions older
 * than the one that failed, which a successful merge would have refused too, and a retry of the same version
 * is still accepted. The other order could leave a merged gallery with its floor not raised, re-opening the
 * rollback. A damaged floor file (not JSON, or a value that is not a version number) refuses every push
 * (fail secure): reading it as "no floor" would accept any old package.
 */
import type { KeyObject } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { SerialQueue } from '../concurrency/serial-queue.js';
import { FaceedgeError } from '../errors.js';
import type { GalleryKey } from '../recognition/gallery-codec.js';
import type { GalleryContents, GalleryModel } from '../recognition/gallery-contents.js';
import { verifyGalleryPackage } from './gallery-package.js';

/** File name of the floor under state_dir. */
export const GALLERY_PUSH_FLOOR_FILE = 'gallery-push-floor.json';

/** The floor file: source gallery id → highest version merged. */
const galleryPushFloorSchema = z.record(z.string(), z.number().int().nonnegative());
type GalleryPushFloor = z.infer<typeof galleryPushFloorSchema>;

export interface GalleryPushOptions {
  /** `<state_dir>/gallery-push-floor.json`. */
  readonly floorFile: string;
  /** The model-signing public keys the board trusts (`models.public_key`); none: every push is refused. */
  readonly trustedKeys: () => Promise<readonly KeyObject[]>;
  /** The board's gallery key. */
  readonly key: GalleryKey;
  /** The embedding model the board uses. */
  readonly model: () => Promise<GalleryModel>;
  /** Merges into the board's gallery and returns what was written (BoardGallery.merge). */
  readonly merge: (other: GalleryContents, model: GalleryModel) => Promise<GalleryContents>;
}

/** What a merged push answers (and the audit shows): no names, no embeddings. */
export interface GalleryPushOutcome {
  readonly source: string;
  readonly source_version: number;
  readonly signed_by: string;
  /** People in the board's gallery after the merge. */
  readonly people: number;
  /** The board's gallery version after the merge. */
  readonly version: number;
}

export class GalleryPushReceiver {
  readonly #o: GalleryPushOptions;
  readonly #queue = new SerialQueue();

  constructor(options: GalleryPushOptions) {
    this.#o = options;
  }

  /** Verifies, checks and merges one package (the `faces/merge` request's parameters). Throws typed errors. */
  receive(params: unknown): Promise<GalleryPushOutcome> {
    return this.#queue.run(async () => {
      const trusted = await this.#o.trustedKeys();
      if (trusted.length === 0) {
        throw new FaceedgeError(
          'MODEL_SIGNATURE_INVALID',
          'this board trusts no signing key: gallery pushes are refused',
          {
            hint: 'install the .pub.pem of `faceedge model keygen` as models.public_key',
          },
        );
      }
      const pkg = verifyGalleryPackage(params, trusted, this.#o.key);
      const model = await this.#o.model();
      if (pkg.manifest.model.id !== model.id || pkg.manifest.model.dimensions !== model.dimensions) {
        throw new FaceedgeError(
          'GALLERY_INVALID',
          `the pushed gallery holds embeddings of ${pkg.manifest.model.id} (${pkg.manifest.model.dimensions}), this board uses ${model.id} (${model.dimensions})`,
          { hint: 'enrol the people again with the board’s embedding model' },
        );
      }
      const floor = await this.#readFloor();
      const source = pkg.manifest.gallery_id;
      const merged = floor[source] ?? 0;
      if (pkg.manifest.version < merged) {
        throw new FaceedgeError(
          'GALLERY_INVALID',
          `the pushed gallery is version ${pkg.manifest.version} of ${source}; this board already merged version ${merged}: an older one is refused`,
          { hint: 'push the newest version of that gallery' },
        );
      }
      await this.#writeFloor({ ...floor, [source]: Math.max(merged, pkg.manifest.version) });
      const after = await this.#o.merge(pkg.contents, model);
      return {
        source,
        source_version: pkg.manifest.version,
        signed_by: pkg.signedBy,
        people: after.people.length,
        version: after.version,
      };
    });
  }

  async #readFloor(): Promise<GalleryPushFloor> {
    let text: string;
    try {
      text = await readFile(this.#o.floorFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const floor = galleryPushFloorSchema.safeParse(parsed);
    if (!floor.success)
      throw new FaceedgeError(
        'GALLERY_INVALID',
        `${this.#o.floorFile} is damaged: gallery pushes are refused until it is fixed`,
        {
          hint: 'restore it from a backup (a JSON object of gallery id → version merged); deleting it lifts the rollback protection',
        },
      );
    return floor.data;
  }

  async #writeFloor(floor: GalleryPushFloor): Promise<void> {
    const tmp = `${this.#o.floorFile}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(floor) + '\n', { mode: 0o600 });
    await rename(tmp, this.#o.floorFile);
  }
}
