/**
 * Runs a .tflite file in faceedge's runtime on raw input bytes; used by the Python test-suite and
 * `faceedge_train.verify_export` to check exported models against PyTorch.
 *
 *   tsx scripts/tflite-run.ts <model.tflite> <input.bin> <output.bin> [--delegate xnnpack|cpu] [--threads N]
 *
 * input.bin holds N inputs back to back (N × the input tensor's byte size); output.bin receives the N
 * outputs back to back. Prints one JSON line: {input, output, delegate, n}.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { TfliteModel } from '../src/inference/tflite-model.js';

const [modelPath, inputPath, outputPath, ...rest] = process.argv.slice(2);
if (!modelPath || !inputPath || !outputPath) {
  console.error('usage: tflite-run.ts <model.tflite> <input.bin> <output.bin> [--delegate xnnpack|cpu] [--threads N]');
  process.exit(2);
}
const flag = (name: string) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const delegateKind = (flag('--delegate') ?? 'xnnpack') as 'xnnpack' | 'cpu';
const model = await TfliteModel.load(modelPath, {
  threads: Number(flag('--threads') ?? 1),
  delegate: { kind: delegateKind },
});
const [input] = model.inputs;
const [output] = model.outputs;
const data = await readFile(inputPath);
if (data.length % input.byteSize !== 0) {
  console.error(`input.bin has ${data.length} bytes, not a multiple of the input tensor size ${input.byteSize}`);
  process.exit(2);
}
const n = data.length / input.byteSize;
const out = Buffer.alloc(n * output.byteSize);
for (let i = 0; i < n; i++) {
  const [result] = model.runSync([data.subarray(i * input.byteSize, (i + 1) * input.byteSize)]);
  Buffer.from(result.buffer, result.byteOffset, result.byteLength).copy(out, i * output.byteSize);
}
await writeFile(outputPath, out);
console.log(JSON.stringify({ input, output, delegate: model.delegate, n }));
await model.close();
