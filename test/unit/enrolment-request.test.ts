/** The gallery's bridge request parameters: bounded and checked before any photo is decoded. */
import { describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { ENROLMENT_BOUNDS } from '../../src/recognition/board-gallery.js';
import { parseFacesAddRequest, parseFacesRemoveRequest } from '../../src/recognition/enrolment-request.js';

const code = (f: () => unknown) => {
  try {
    f();
    return null;
  } catch (e) {
    return isFaceedgeError(e) ? e.code : String(e);
  }
};

describe('faces/add and faces/remove parameters', () => {
  it('keeps checked base64 photos in order and names them by position', () => {
    const r = parseFacesAddRequest({ name: 'Alice', photos: ['aGVsbG8=', 'd29ybGQ'] });
    expect(r.name).toBe('Alice');
    expect(r.photos.map((p) => [p.origin, 'base64' in p ? Buffer.from(p.base64, 'base64').toString() : null])).toEqual([
      ['photo 1', 'hello'],
      ['photo 2', 'world'],
    ]);
  });

  it('refuses what is not a bounded list of base64 strings, before decoding any', () => {
    const tooBig = 'A'.repeat(Math.ceil(ENROLMENT_BOUNDS.maxPhotoBytes / 3) * 4 + 4);
    for (const params of [
      null,
      [],
      'x',
      { name: 1, photos: ['aGk='] },
      { name: 'A' },
      { name: 'A', photos: [] },
      { name: 'A', photos: 'aGk=' },
      { name: 'A', photos: [42] },
      { name: 'A', photos: ['not base64!'] },
      { name: 'A', photos: ['aGk=\n'] },
      { name: 'A', photos: Array.from({ length: ENROLMENT_BOUNDS.maxPhotos + 1 }, () => 'aGk=') },
      { name: 'A', photos: [tooBig] },
    ])
      expect(
        code(() => parseFacesAddRequest(params)),
        JSON.stringify(params)?.slice(0, 60),
      ).toBe('REQUEST_INVALID');
    expect(code(() => parseFacesRemoveRequest({}))).toBe('REQUEST_INVALID');
    expect(parseFacesRemoveRequest({ name: 'Bob' })).toEqual({ name: 'Bob' });
  });
});
