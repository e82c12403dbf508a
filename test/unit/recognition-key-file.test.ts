/**
 * The rule "recognition.enabled needs recognition.key_file" has one definition: the config check refuses a
 * section without it, and every user of the key (the recognition loader, the board gallery service, the
 * enrolment part) reads it through `recognitionKeyFile`, which refuses a hand-built section with the same words.
 */
import { describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { recognitionKeyFile, recognitionSchema } from '../../src/recognition/recognition-config-schema.js';

describe('recognition key file: one rule', () => {
  it('the config check and recognitionKeyFile refuse a missing key with the same words', () => {
    const parsed = recognitionSchema.safeParse({ enabled: true });
    expect(parsed.success).toBe(false);
    const schemaMessage = parsed.error?.issues.find((i) => i.path.join('.') === 'key_file')?.message;
    expect(schemaMessage).toMatch(/needs recognition\.key_file/);
    let thrown: unknown;
    try {
      recognitionKeyFile({});
    } catch (err) {
      thrown = err;
    }
    expect(isFaceedgeError(thrown) && thrown.code).toBe('CONFIG_INVALID');
    expect((thrown as Error).message).toBe(schemaMessage);
  });

  it('gives the key file of a parsed section', () => {
    const parsed = recognitionSchema.parse({ enabled: true, key_file: '/etc/faceedge/gallery.key' });
    expect(recognitionKeyFile(parsed)).toBe('/etc/faceedge/gallery.key');
  });
});
