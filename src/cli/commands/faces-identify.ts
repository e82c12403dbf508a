/**
 * `faceedge faces identify <photo…>`: who is in each photo, against the gallery. One line per photo, in
 * the order given, printed as soon as it and the ones before it are done: thousands of photos (or folders
 * of them) in one call run with bounded memory and concurrency.
 */
import type { Command } from 'commander';
import { FaceedgeError } from '../../errors.js';
import {
  DEFAULT_IDENTIFY_MARGIN,
  identifyPhotos,
  manifestMargin,
  type IdentifyResult,
} from '../../recognition/gallery-identify.js';
import { photoFiles } from '../../recognition/gallery-photo.js';
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

function textLine(r: IdentifyResult): string {
  if (r.error) return `${r.file}  —  ${r.error}`;
  const score = `${r.similarity?.toFixed(3) ?? '—'} (next ${r.second_similarity?.toFixed(3) ?? '—'})`;
  return `${r.file}  ${r.person ?? 'unknown'}  ${score}`;
}

/** One line to stdout, waiting while a slow reader's pipe is full (so results never pile up in memory). */
async function writeLine(line: string): Promise<void> {
  if (!process.stdout.write(`${line}\n`)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}

interface IdentifyFlags extends GalleryFlags, PhotoFlags {
  readonly margin?: string;
  readonly concurrency: string;
  readonly json?: boolean;
}

export function registerFacesIdentifyCommand(program: Command, env: NodeJS.ProcessEnv): void {
  withPhotoOptions(withGalleryOptions(facesCommand(program).command('identify')))
    .description(
      "who is in each photo: the gallery's best match when it reaches the model's threshold with a margin over the second-best person",
    )
    .argument('<photos...>', 'photos, or folders of photos (searched recursively)')
    .option(
      '--margin <cosine>',
      `lead over the second-best person a name needs, cosine similarity (default: the manifest's recognition.margin, else ${DEFAULT_IDENTIFY_MARGIN})`,
    )
    .option('--concurrency <n>', 'photos in flight', '2')
    .option('--json', 'one JSON object per photo: {file, person, similarity, second_similarity, box} (+ error)')
    .action(async (args: string[], flags: IdentifyFlags) => {
      const margin = flags.margin === undefined ? undefined : Number(flags.margin);
      if (margin !== undefined && !(margin >= 0 && margin < 2)) {
        throw new FaceedgeError('USAGE', `--margin must be in [0, 2), got ${flags.margin}`);
      }
      const concurrency = parseConcurrency(flags.concurrency);
      await withPhotoTools(flags, async (tools) => {
        const { embedder } = tools;
        const { store } = await openGallery(flags, env, { id: embedder.id, dimensions: embedder.dimensions });
        if (store.contents.people.length === 0) {
          throw new FaceedgeError('GALLERY_INVALID', `the gallery ${store.path} has nobody enrolled`, {
            hint: 'enrol people first: faceedge faces add <name> <photos…>',
          });
        }
        const results = identifyPhotos(photoFiles(args), {
          tools,
          gallery: store.contents,
          threshold: embedder.threshold,
          margin: margin ?? manifestMargin(embedder.manifest.recognition),
          concurrency,
        });
        for await (const result of results) await writeLine(flags.json ? JSON.stringify(result) : textLine(result));
      });
    });
}
