/**
 * `faceedge faces add | list | remove | keygen | merge | package`: enrolling people into the gallery of known faces
 * and managing it (src/recognition/gallery-store.ts). Output never holds an embedding value.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { makeGalleryPackage, type GalleryManifest } from '../../model-push/gallery-package.js';
import { loadPrivateKey } from '../../model-push/model-signature.js';
import { FaceedgeError } from '../../errors.js';
import { readGalleryKey, writeGalleryKey } from '../../recognition/gallery-key.js';
import { mapInOrder, matchEmbedding } from '../../recognition/gallery-identify.js';
import {
  LOW_SHARPNESS,
  MIN_ENROL_EYE_DISTANCE_PX,
  type PhotoQuality,
} from '../../recognition/gallery-photo-quality.js';
import { photoFace, photoFiles, type PhotoFace } from '../../recognition/gallery-photo.js';
import { personKey, validPersonName } from '../../recognition/gallery-person.js';
import { GalleryStore } from '../../recognition/gallery-store.js';
import { formatTable } from '../format-table.js';
import {
  facesCommand,
  openGallery,
  parseConcurrency,
  withGalleryOptions,
  withPhotoOptions,
  withPhotoTools,
  type GalleryFlags,
  type PhotoFlags,
} from './faces-gallery-options.js';

/** An enrolment photo this similar to someone else already enrolled is flagged: it may be the wrong photo. */
const LOOKS_LIKE_SOMEONE_ELSE = 0.95;

function describeQuality(q: PhotoQuality): string {
  const blur = q.sharpness < LOW_SHARPNESS ? ' (blurred)' : '';
  return `face ${q.face_px[0]}×${q.face_px[1]} px, eyes ${q.eye_distance_px} px, sharpness ${q.sharpness}${blur}, yaw ${q.yaw_deg}°, roll ${q.roll_deg}°`;
}

function photoLine(p: PhotoFace): string {
  if (p.usable) return `ok    ${p.file}  ${describeQuality(p.quality)}`;
  return `skip  ${p.file}  ${p.reason}${p.quality ? `; ${describeQuality(p.quality)}` : ''}`;
}

type AddFlags = GalleryFlags & PhotoFlags & { concurrency: string; json?: boolean };

/** `faces add`: every photo through `photoFace`, one line each, then one enrolment of the usable ones. */
async function addPerson(
  rawName: string,
  args: readonly string[],
  flags: AddFlags,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  // A bad name fails before any model is loaded or photo read.
  const name = validPersonName(rawName);
  const key = personKey(name);
  const concurrency = parseConcurrency(flags.concurrency);
  await withPhotoTools(flags, async (tools) => {
    const { embedder } = tools;
    const { store } = await openGallery(flags, env, { id: embedder.id, dimensions: embedder.dimensions });
    const others = { ...store.contents, people: store.contents.people.filter((p) => personKey(p.name) !== key) };
    const usable: Float32Array[] = [];
    let seen = 0;
    const photos = mapInOrder(photoFiles(args), concurrency, (file) => photoFace(file, tools, { purpose: 'enrol' }));
    for await (const photo of photos) {
      seen++;
      const lookalike = photo.usable
        ? matchEmbedding(others, photo.embedding, { threshold: LOOKS_LIKE_SOMEONE_ELSE, margin: 0 }).person
        : null;
      if (photo.usable) usable.push(photo.embedding);
      if (flags.json) {
        const { file, quality, box } = photo;
        const reason = photo.usable ? {} : { reason: photo.reason };
        console.log(
          JSON.stringify({
            file,
            usable: photo.usable,
            ...reason,
            box,
            quality,
            ...(lookalike ? { looks_like: lookalike } : {}),
          }),
        );
      } else {
        console.log(photoLine(photo));
        if (lookalike)
          console.log(`      warning: this face looks like ${lookalike}, already enrolled: is it the right photo?`);
      }
    }
    if (usable.length === 0) {
      throw new FaceedgeError('ENROLMENT_FAILED', `no usable photo of ${name} among ${seen}: nobody was enrolled`, {
        hint: `use sharp, frontal photos with one face, eyes at least ${MIN_ENROL_EYE_DISTANCE_PX} px apart`,
      });
    }
    const after = await store.enrol(name, usable);
    const person = after.people.find((p) => personKey(p.name) === key);
    const summary = {
      enrolled: person?.name ?? name,
      photos: seen,
      used: usable.length,
      embeddings: person?.embeddings.length ?? usable.length,
      gallery: store.path,
      version: after.version,
    };
    console.log(
      flags.json
        ? JSON.stringify(summary)
        : `enrolled ${summary.enrolled}: ${usable.length} of ${seen} photos (${summary.embeddings} embedding${summary.embeddings === 1 ? '' : 's'} in ${store.path}, version ${after.version})`,
    );
  });
}

export function registerFacesGalleryCommands(program: Command, env: NodeJS.ProcessEnv): void {
  const faces = facesCommand(program);

  withPhotoOptions(withGalleryOptions(faces.command('add')))
    .description('enrol a person from photos: one line per photo with its quality; exit 2 when none was usable')
    .argument('<name>', 'the person (letters, digits, single spaces . - _ \u2019; at most 64)')
    .argument('<photos...>', 'photos or folders of photos of that person only')
    .option('--concurrency <n>', 'photos in flight', '2')
    .option('--json', 'one JSON object per photo, then one for the enrolment')
    .action((name: string, args: string[], flags: AddFlags) => addPerson(name, args, flags, env));

  withGalleryOptions(faces.command('list'))
    .description('the people in the gallery: name, embeddings, last change (never the embeddings themselves)')
    .option('--json', 'one JSON object')
    .action(async (flags: GalleryFlags & { json?: boolean }) => {
      const { store, encrypted } = await openGallery(flags, env);
      const { contents } = store;
      if (flags.json) {
        console.log(
          JSON.stringify({
            gallery: store.path,
            version: contents.version,
            model: contents.model,
            encrypted,
            people: store.list(),
          }),
        );
        return;
      }
      const people = store.list();
      console.log(
        `${store.path}: ${people.length} people, version ${contents.version}, model ${contents.model.id || '—'}, ${encrypted ? 'encrypted' : 'plain'}`,
      );
      if (people.length > 0)
        console.log(
          formatTable([
            ['name', 'embeddings', 'changed'],
            ...people.map((p) => [p.name, String(p.embeddings), p.changed]),
          ]),
        );
    });

  withGalleryOptions(faces.command('remove'))
    .description(
      'erase a person: their name and embeddings leave the gallery file (a salted tombstone stays, for merges)',
    )
    .argument('<name>', 'the person')
    .action(async (name: string, flags: GalleryFlags) => {
      const { store } = await openGallery(flags, env);
      const after = await store.remove(name);
      console.log(
        `removed ${name.trim()}: ${after.people.length} people left in ${store.path} (version ${after.version})`,
      );
    });

  withGalleryOptions(faces.command('merge'))
    .description(
      'merge another gallery into this one: union of people, the newer change of a person wins, removals kept',
    )
    .argument('<from>', 'the gallery to merge in (left unchanged)')
    .option('--from-key <file>', "the other gallery's key (absent: it is plain)")
    .action(async (from: string, flags: GalleryFlags & { fromKey?: string }) => {
      const source = await GalleryStore.open({
        path: from,
        key: flags.fromKey ? await readGalleryKey(flags.fromKey) : null,
      });
      if (source.contents.version === 0)
        throw new FaceedgeError('GALLERY_INVALID', `${from} does not exist or is empty`);
      const { store } = await openGallery(flags, env, source.contents.model);
      const after = await store.merge(source.contents);
      console.log(`merged ${from} into ${store.path}: ${after.people.length} people (version ${after.version})`);
    });

  faces
    .command('package')
    .description(
      'sign a gallery for the boards of a site (bridge faces/merge, `fleet push-gallery`): they verify it with models.public_key and merge it',
    )
    .argument('<gallery>', 'the gallery file (encrypted under the boards’ gallery key)')
    .requiredOption('--key <file>', 'the gallery key: the one the boards use (recognition.key_file)')
    .requiredOption('--sign-key <pem>', 'the model-signing private key (faceedge model keygen)')
    .requiredOption('--out <file>', 'the package to write (JSON, mode 0600)')
    .action(async (gallery: string, flags: { key: string; signKey: string; out: string }) => {
      const pkg = makeGalleryPackage(
        await readFile(gallery),
        await readGalleryKey(flags.key),
        loadPrivateKey(await readFile(flags.signKey), flags.signKey),
      );
      await writeFile(flags.out, JSON.stringify(pkg) + '\n', { mode: 0o600, flag: 'wx' });
      const manifest = JSON.parse(Buffer.from(pkg.manifest, 'base64').toString('utf8')) as GalleryManifest;
      console.log(
        `wrote ${flags.out}: gallery ${manifest.gallery_id} version ${manifest.version} (${manifest.model.id}), signed`,
      );
    });

  faces
    .command('keygen')
    .description('write a new random 32-byte gallery key, mode 0600 (never overwrites a file)')
    .argument('<file>', 'the key file to create')
    .action(async (file: string) => {
      await writeGalleryKey(file);
      console.log(`wrote a new gallery key to ${file} (mode 0600); back it up: without it the gallery cannot be read`);
    });
}
