/**
 * The classifier integration tests run: `FACEEDGE_TEST_MODEL` when set (a .tflite with its
 * manifest.json), else the shipped `models/faceedge-gender_int8.tflite`; null when neither exists,
 * and the tests that need one skip with that reason.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { shippedModelPath } from '../../src/inference/shipped-model.js';

export function testClassifierPath(): string | null {
  const path = process.env.FACEEDGE_TEST_MODEL ? resolve(process.env.FACEEDGE_TEST_MODEL) : shippedModelPath();
  return existsSync(path) ? path : null;
}

export const NO_CLASSIFIER_REASON =
  'no classifier: models/faceedge-gender_int8.tflite is not exported yet and FACEEDGE_TEST_MODEL is unset';
