import { describe, expect, it } from 'vitest';
import { FaceedgeError } from '../../src/errors.js';
import { errorLogFields } from '../../src/observability/error-log-fields.js';
import { createLogger } from '../../src/observability/logger.js';

function logged(err: unknown): Record<string, unknown> {
  const lines: string[] = [];
  createLogger({ destination: { write: (l: string) => void lines.push(l) } }).warn(errorLogFields(err), 'refused');
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('errorLogFields', () => {
  it('logs an expected refusal as code, message and hint, without a stack trace', () => {
    const line = logged(
      new FaceedgeError('MODEL_SIGNATURE_INVALID', 'the package has no manifest.sig', { hint: 'sign it' }),
    );
    expect(line).toMatchObject({
      code: 'MODEL_SIGNATURE_INVALID',
      err: 'the package has no manifest.sig',
      hint: 'sign it',
    });
    expect(JSON.stringify(line)).not.toContain('stack');
  });

  it('keeps the stack of anything else (a bug)', () => {
    const line = logged(new TypeError('x is undefined'));
    expect((line.err as { stack: string }).stack).toContain('TypeError: x is undefined');
  });
});
