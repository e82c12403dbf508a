/**
 * The gallery file format, version 1:
 *
 * ```
 * {"format":"faceedge-gallery","format_version":1,"encryption":"aes-256-gcm","model":{…},"version":7,"nonce":"…"}\n
 * body
 * ```
 *
 * The first line is a JSON header, readable without the key (what the file is, which model, whether it is
 * encrypted) and authenticated with the body: an encrypted body is AES-256-GCM of the payload under a fresh
 * 12-byte nonce with the header line as additional data, followed by the 16-byte tag; a plain body is the
 * payload followed by SHA-256 of header line and payload (a check against corruption, not an attacker:
 * plain galleries are for workstation enrolment and tests). Nothing is returned before the whole file
 * checks out, so a wrong key or an altered byte is one error and never a partial read.
 *
 * The payload is binary: a little-endian uint32 length, a JSON description of the people (names, change
 * stamps, how many embeddings each) and tombstones, then every embedding as little-endian float32 in
 * people order. Binary because embeddings are the bulk of the file: raw float32 round-trips exactly, is
 * 2.5× smaller than decimal text and parses without a float parser; the rest stays JSON, readable and
 * extensible.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { FaceedgeError } from '../errors.js';
import type { GalleryContents } from './gallery-contents.js';
import type { GalleryPerson } from './gallery-person.js';

export const GALLERY_FORMAT = 'faceedge-gallery';
export const GALLERY_FORMAT_VERSION = 1;
/** Longest accepted header line, bytes: a header is ~250 bytes; anything longer is not a gallery. */
const MAX_HEADER_BYTES = 4096;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const CHECKSUM_BYTES = 32;

/** A 32-byte AES-256 key (gallery-key.ts reads it from its file). */
export type GalleryKey = Buffer;

const stampSchema = z.object({ at: z.number().int().nonnegative(), by: z.string().min(1).max(64) });

const headerSchema = z.object({
  format: z.literal(GALLERY_FORMAT),
  format_version: z.number().int(),
  encryption: z.enum(['none', 'aes-256-gcm']),
  model: z.object({ id: z.string().min(1).max(200), dimensions: z.number().int().min(1).max(4096) }),
  version: z.number().int().nonnegative(),
  nonce: z.string().optional(),
});
export type GalleryHeader = z.infer<typeof headerSchema>;

const metaSchema = z.object({
  gallery_id: z.string().min(1).max(64),
  people: z.array(
    z.object({ name: z.string().min(1).max(256), changed: stampSchema, embeddings: z.number().int().min(1) }),
  ),
  tombstones: z.array(
    z.object({
      salt: z.string().regex(/^[0-9a-f]{32}$/),
      mac: z.string().regex(/^[0-9a-f]{64}$/),
      changed: stampSchema,
    }),
  ),
});

/** The file bytes of `gallery`: encrypted under `key`, or plain (marked so in the header) when `key` is null. */
export function encodeGallery(gallery: GalleryContents, key: GalleryKey | null): Buffer {
  const nonce = key ? randomBytes(NONCE_BYTES) : null;
  const header: GalleryHeader = {
    format: GALLERY_FORMAT,
    format_version: GALLERY_FORMAT_VERSION,
    encryption: key ? 'aes-256-gcm' : 'none',
    model: { id: gallery.model.id, dimensions: gallery.model.dimensions },
    version: gallery.version,
    ...(nonce ? { nonce: nonce.toString('base64') } : {}),
  };
  const headerLine = Buffer.from(`${JSON.stringify(header)}\n`, 'utf8');
  const payload = encodePayload(gallery);
  if (!key || !nonce) return Buffer.concat([headerLine, payload, sha256(headerLine, payload)]);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(headerLine);
  return Buffer.concat([headerLine, cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
}

/** The header of a gallery file, unauthenticated (for messages and `readGalleryHeader`); throws GALLERY_INVALID. */
export function parseGalleryHeader(bytes: Buffer, origin: string): { header: GalleryHeader; headerLine: Buffer } {
  const end = bytes.subarray(0, MAX_HEADER_BYTES).indexOf(0x0a);
  const notGallery = (why: string) =>
    new FaceedgeError('GALLERY_INVALID', `${origin} is not a faceedge gallery (${why})`, {
      hint: 'a gallery is made by faceedge faces add',
    });
  if (end < 0) throw notGallery('no header line');
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.subarray(0, end).toString('utf8'));
  } catch {
    throw notGallery('the header is not JSON');
  }
  const result = headerSchema.safeParse(parsed);
  if (!result.success) throw notGallery('unexpected header');
  if (result.data.format_version !== GALLERY_FORMAT_VERSION) {
    throw new FaceedgeError(
      'GALLERY_INVALID',
      `${origin} is gallery format ${result.data.format_version}; this faceedge reads format ${GALLERY_FORMAT_VERSION}`,
      { hint: 'update faceedge on this machine' },
    );
  }
  return { header: result.data, headerLine: bytes.subarray(0, end + 1) };
}

/**
 * The gallery in `bytes`, checked whole before anything is returned. Throws GALLERY_KEY_INVALID when an
 * encrypted file is read without a key or a plain one with a key (a board's gallery must not silently be
 * plain), GALLERY_AUTH_FAILED for a wrong key or an altered file, GALLERY_INVALID for anything else.
 */
export function decodeGallery(bytes: Buffer, key: GalleryKey | null, origin: string): GalleryContents {
  const { header, headerLine } = parseGalleryHeader(bytes, origin);
  const body = bytes.subarray(headerLine.length);
  const altered = () =>
    new FaceedgeError(
      'GALLERY_AUTH_FAILED',
      `${origin} cannot be read: wrong key, or the file was altered or damaged`,
      {
        hint: 'check the key file; a damaged gallery cannot be repaired, enrol again or restore it from its source',
      },
    );
  let payload: Buffer;
  if (header.encryption === 'none') {
    if (key) {
      throw new FaceedgeError(
        'GALLERY_KEY_INVALID',
        `${origin} is a plain (unencrypted) gallery, but a key was given`,
        {
          hint: 'merge it into an encrypted gallery (faceedge faces merge), or leave out --key to read it as plain',
        },
      );
    }
    if (body.length < CHECKSUM_BYTES) throw altered();
    payload = body.subarray(0, body.length - CHECKSUM_BYTES);
    if (!sha256(headerLine, payload).equals(body.subarray(body.length - CHECKSUM_BYTES))) throw altered();
  } else {
    if (!key) {
      throw new FaceedgeError('GALLERY_KEY_INVALID', `${origin} is encrypted: its key file is needed`, {
        hint: 'give --key FILE (the 32-byte key it was written with)',
      });
    }
    const nonce = Buffer.from(header.nonce ?? '', 'base64');
    if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw altered();
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(headerLine);
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      payload = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw altered();
    }
  }
  return decodePayload(payload, header, origin);
}

function sha256(...parts: Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest();
}

function encodePayload(gallery: GalleryContents): Buffer {
  const meta: z.infer<typeof metaSchema> = {
    gallery_id: gallery.galleryId,
    people: gallery.people.map((p) => ({ name: p.name, changed: p.changed, embeddings: p.embeddings.length })),
    tombstones: gallery.tombstones.map((t) => ({ salt: t.salt, mac: t.mac, changed: t.changed })),
  };
  const metaBytes = Buffer.from(JSON.stringify(meta), 'utf8');
  const count = gallery.people.reduce((n, p) => n + p.embeddings.length, 0);
  const out = Buffer.alloc(4 + metaBytes.length + count * gallery.model.dimensions * 4);
  out.writeUInt32LE(metaBytes.length, 0);
  metaBytes.copy(out, 4);
  let offset = 4 + metaBytes.length;
  for (const person of gallery.people) {
    for (const embedding of person.embeddings) {
      for (const v of embedding) offset = out.writeFloatLE(v, offset);
    }
  }
  return out;
}

function decodePayload(payload: Buffer, header: GalleryHeader, origin: string): GalleryContents {
  // The payload passed its checksum or tag: a failure here is a writer's bug, not corruption.
  const broken = (why: string) => new FaceedgeError('GALLERY_INVALID', `${origin}: malformed gallery (${why})`);
  if (payload.length < 4) throw broken('payload too short');
  const metaLength = payload.readUInt32LE(0);
  if (4 + metaLength > payload.length) throw broken('description past the end');
  let meta: z.infer<typeof metaSchema>;
  try {
    meta = metaSchema.parse(JSON.parse(payload.subarray(4, 4 + metaLength).toString('utf8')));
  } catch {
    throw broken('description');
  }
  const { dimensions } = header.model;
  const total = meta.people.reduce((n, p) => n + p.embeddings, 0);
  let offset = 4 + metaLength;
  if (payload.length - offset !== total * dimensions * 4) throw broken('embedding bytes do not match the description');
  const people: GalleryPerson[] = meta.people.map((p) => {
    const embeddings: Float32Array[] = [];
    for (let i = 0; i < p.embeddings; i++) {
      const e = new Float32Array(dimensions);
      for (let j = 0; j < dimensions; j++, offset += 4) e[j] = payload.readFloatLE(offset);
      embeddings.push(e);
    }
    return { name: p.name, changed: p.changed, embeddings };
  });
  return {
    galleryId: meta.gallery_id,
    model: header.model,
    version: header.version,
    people,
    tombstones: meta.tombstones,
  };
}
