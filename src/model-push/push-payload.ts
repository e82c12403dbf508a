/**
 * What `faceedge model push --mqtt` and `fleet push` send (src/model-push/mqtt-push-protocol.ts): the package's
 * manifest, signature and model files in stream order, checked locally first (what the board would refuse
 * anyway), with the plan and the content-derived transfer id. A pair adds its head's package after the model's
 * files (`head/manifest.json`, `head/manifest.sig`, `head/<file>`); a head alone sends only those.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { isHeadPackage, pushedHeadDir, readHeadPackage } from './head-package.js';
import { MANIFEST_FILE, SIGNATURE_FILE, readModelPackage, sha256Hex, verifyPackageFiles } from './model-package.js';
import { HEAD_PREFIX, transferIdFor, type TransferPlan } from './mqtt-push-protocol.js';
import { versionName } from './model-store.js';

export interface Payload {
  readonly plan: TransferPlan;
  readonly data: Buffer;
  readonly id: string;
}

interface Part {
  readonly name: string;
  readonly data: Buffer;
}

/** A head package's parts under `head/`, its file checked against its manifest; and its manifest + signature. */
async function headParts(dir: string): Promise<{ parts: Part[]; idBytes: Buffer; id: string; version: string }> {
  const head = await readHeadPackage(dir);
  const file = await readFile(join(dir, head.file.name));
  if (file.length !== head.file.bytes || sha256Hex(file) !== head.file.sha256)
    throw new FaceedgeError('MODEL_CHECKSUM_MISMATCH', `${join(dir, head.file.name)}: does not match its manifest`);
  const signature = await readFile(join(dir, SIGNATURE_FILE)).catch(() => null);
  const parts: Part[] = [{ name: HEAD_PREFIX + MANIFEST_FILE, data: head.manifestBytes }];
  if (signature) parts.push({ name: HEAD_PREFIX + SIGNATURE_FILE, data: signature });
  parts.push({ name: HEAD_PREFIX + head.file.name, data: file });
  const idBytes = Buffer.concat([head.manifestBytes, signature ?? Buffer.alloc(0)]);
  return { parts, idBytes, id: head.manifest.id, version: versionName(head.manifest, head.manifestBytes) };
}

/**
 * The payload of `dir` for the board's model `name` (undefined: its first): a model package (with `headDir`, or
 * a `head/` folder inside it, as a pair) or a head package alone.
 */
export async function loadPayload(
  dir: string,
  chunkSize: number,
  name: string | undefined,
  headDir?: string,
): Promise<Payload> {
  const named = name === undefined ? {} : { name }; // sent only when named: older boards refuse the field
  if (await isHeadPackage(dir)) {
    if (headDir !== undefined)
      throw new FaceedgeError('USAGE', `${dir} is a head package: --head is for the image model's`);
    const head = await headParts(dir);
    return assemble(head.parts, chunkSize, { id: head.id, version: head.version }, named, () =>
      transferIdFor(Buffer.alloc(0), null, chunkSize, name, head.idBytes),
    );
  }
  const pkg = await readModelPackage(dir);
  await verifyPackageFiles(pkg);
  const signature = await readFile(join(dir, SIGNATURE_FILE)).catch(() => null);
  const parts: Part[] = [{ name: MANIFEST_FILE, data: pkg.manifestBytes }];
  if (signature) parts.push({ name: SIGNATURE_FILE, data: signature });
  for (const f of pkg.files) parts.push({ name: f.name, data: await readFile(join(dir, f.name)) });
  const head = pushedHeadDir(dir, headDir);
  const headPart = head === null ? null : await headParts(head);
  const headManifest = headPart?.parts[0].data; // the version is the pair's (model-store.ts versionName)
  const claim = { id: pkg.manifest.id, version: versionName(pkg.manifest, pkg.manifestBytes, headManifest) };
  return assemble([...parts, ...(headPart?.parts ?? [])], chunkSize, claim, named, () =>
    transferIdFor(pkg.manifestBytes, signature, chunkSize, name, headPart?.idBytes),
  );
}

function assemble(
  parts: readonly Part[],
  chunkSize: number,
  model: NonNullable<TransferPlan['model']>,
  named: { name?: string },
  id: () => string,
): Payload {
  const data = Buffer.concat(parts.map((p) => p.data));
  const plan: TransferPlan = {
    files: parts.map((p) => ({ name: p.name, bytes: p.data.length, sha256: sha256Hex(p.data) })),
    chunk_size: chunkSize,
    total_bytes: data.length,
    total_chunks: Math.ceil(data.length / chunkSize),
    model,
    ...named,
  };
  return { plan, data, id: id() };
}
