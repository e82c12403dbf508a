import { describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import {
  emptyGallery,
  withEnrolment,
  withRemoval,
  type GalleryContents,
  type GalleryModel,
} from '../../src/recognition/gallery-contents.js';
import { mergeGalleries } from '../../src/recognition/gallery-merge.js';

const MODEL: GalleryModel = { id: 'test-embed', dimensions: 4 };

function unit(...v: number[]): Float32Array {
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
}
const E1 = unit(1, 0, 0, 0);
const E2 = unit(0, 1, 0, 0);
const E3 = unit(0, 0, 1, 0);

/** What a merge must agree on: who is enrolled, with which embeddings, and how many removals are remembered. */
const view = (g: GalleryContents) => ({
  people: g.people.map((p) => [p.name, p.embeddings.map((e) => Array.from(e))]),
  tombstones: g.tombstones.length,
});

describe('mergeGalleries', () => {
  it('takes the union of people; a person in both comes whole from the newer change', () => {
    const board = withEnrolment(
      withEnrolment(emptyGallery(MODEL), 'alice', [E1], undefined, 1000),
      'bob',
      [E2],
      undefined,
      2000,
    );
    const desk = withEnrolment(
      withEnrolment(emptyGallery(MODEL), 'Alice', [E3], undefined, 5000),
      'carol',
      [E3],
      undefined,
      1500,
    );
    const merged = mergeGalleries(board, desk);
    expect(view(merged).people).toEqual([
      ['Alice', [Array.from(E3)]],
      ['bob', [Array.from(E2)]],
      ['carol', [Array.from(E3)]],
    ]);
    expect(merged.galleryId).toBe(board.galleryId);
    expect(merged.version).toBe(Math.max(board.version, desk.version) + 1);
  });

  it('a removal beats an older enrolment in the other gallery, and loses to a newer one', () => {
    const base = withEnrolment(emptyGallery(MODEL), 'alice', [E1], undefined, 1000);
    const removedOnBoard = withRemoval(base, 'alice', undefined, 3000);
    const olderElsewhere = withEnrolment(emptyGallery(MODEL), 'alice', [E2], undefined, 2000);
    const newerElsewhere = withEnrolment(emptyGallery(MODEL), 'alice', [E3], undefined, 4000);
    const stillRemoved = mergeGalleries(removedOnBoard, olderElsewhere);
    expect(view(stillRemoved)).toEqual({ people: [], tombstones: 1 });
    expect(view(mergeGalleries(olderElsewhere, removedOnBoard))).toEqual({ people: [], tombstones: 1 });
    // The tombstone keeps working when a third gallery, older than the removal, is merged later.
    expect(view(mergeGalleries(stillRemoved, base))).toEqual({ people: [], tombstones: 1 });
    const reEnrolled = mergeGalleries(removedOnBoard, newerElsewhere);
    expect(view(reEnrolled)).toEqual({ people: [['alice', [Array.from(E3)]]], tombstones: 0 });
  });

  it('is commutative and idempotent in people and tombstones', () => {
    const a = withRemoval(
      withEnrolment(withEnrolment(emptyGallery(MODEL), 'x', [E1], undefined, 10), 'y', [E2], undefined, 20),
      'x',
      undefined,
      30,
    );
    const b = withEnrolment(withEnrolment(emptyGallery(MODEL), 'y', [E3], undefined, 25), 'z', [E1], undefined, 5);
    const ab = mergeGalleries(a, b);
    expect(view(ab)).toEqual(view(mergeGalleries(b, a)));
    expect(view(mergeGalleries(ab, b))).toEqual(view(ab));
    expect(view(mergeGalleries(ab, ab))).toEqual(view(ab));
    expect(view(ab)).toEqual({
      people: [
        ['y', [Array.from(E3)]],
        ['z', [Array.from(E1)]],
      ],
      tombstones: 1,
    });
  });

  it('a tie in time is broken the same way whichever gallery merges', () => {
    const a = withEnrolment(emptyGallery(MODEL), 'alice', [E1], undefined, 1000);
    const b = withEnrolment(emptyGallery(MODEL), 'alice', [E2], undefined, 1000);
    expect(view(mergeGalleries(a, b))).toEqual(view(mergeGalleries(b, a)));
  });

  it('refuses galleries of different models, and a merge past the bounds', () => {
    const a = withEnrolment(emptyGallery(MODEL), 'alice', [E1]);
    const b = withEnrolment(emptyGallery({ id: 'other', dimensions: 4 }), 'bob', [E1]);
    expect(() => mergeGalleries(a, b)).toThrow(/cannot merge/);
    const c = withEnrolment(emptyGallery(MODEL), 'carol', [E2]);
    try {
      mergeGalleries(a, c, { maxPeople: 1, maxEmbeddingsPerPerson: 20, maxTombstones: 10, maxFileBytes: 1e6 });
      expect.unreachable();
    } catch (err) {
      expect(isFaceedgeError(err, 'GALLERY_LIMIT')).toBe(true);
    }
  });

  it('a clock that steps back still stamps a change later than the gallery’s last one', () => {
    const g = withEnrolment(emptyGallery(MODEL), 'alice', [E1], undefined, 5000);
    const removed = withRemoval(g, 'alice', undefined, 1000);
    expect(removed.tombstones[0].changed.at).toBe(5001);
    // So a copy of the gallery before the removal cannot bring alice back.
    expect(view(mergeGalleries(removed, g)).people).toEqual([]);
  });
});
