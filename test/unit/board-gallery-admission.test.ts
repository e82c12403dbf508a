/**
 * The board's enrolment admission: one enrolment runs and one waits; a third sent at the same time is
 * refused with ENROLMENT_BUSY at once (requests cannot pile up, each holding its photos), and once the
 * admitted ones are answered the board takes new ones again. The photo tools are held on a gate, so the
 * first enrolment is really running while the others arrive.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { BoardGallery, MAX_ENROLMENTS_ADMITTED } from '../../src/recognition/board-gallery.js';

describe('board gallery: enrolment admission', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-board-gallery-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('admits one running and one waiting enrolment; a third at once is refused ENROLMENT_BUSY', async () => {
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let toolCalls = 0;
    const board = new BoardGallery({
      path: join(dir, 'faces.gallery'),
      key: randomBytes(32),
      // Each admitted enrolment asks for the tools in its turn; they fail after the gate, so nothing is written.
      tools: async () => {
        toolCalls += 1;
        await gate;
        throw new Error('no tools in this test');
      },
      onChange: () => undefined,
    });
    const photo = [{ origin: 'photo 1', base64: 'aGk=' }];
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: unknown) => (isFaceedgeError(e) ? e.code : (e as Error).message),
      );
    expect(MAX_ENROLMENTS_ADMITTED).toBe(2);
    const first = code(board.enrol('Alice', photo));
    const second = code(board.enrol('Bea', photo));
    expect(await code(board.enrol('Cleo', photo))).toBe('ENROLMENT_BUSY');
    expect(toolCalls).toBe(1); // the second waits its turn
    open();
    expect(await Promise.all([first, second])).toEqual(['no tools in this test', 'no tools in this test']);
    // Answered: the board admits again.
    expect(await code(board.enrol('Cleo', photo))).toBe('no tools in this test');
  });
});
