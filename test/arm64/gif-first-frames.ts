/**
 * The first `n` frames of an animated GIF as a complete GIF, byte for byte (no re-encoding): the
 * header, every block up to the end of the n-th image's data, then the trailer. The arm64 parity test
 * plays such a short clip because every frame costs about a second of BlazeFace under QEMU.
 */
const EXTENSION = 0x21;
const IMAGE = 0x2c;
const TRAILER = 0x3b;

/** @throws Error when `data` is not a GIF or holds fewer than `n` whole frames. */
export function gifFirstFrames(data: Uint8Array, n: number): Buffer {
  const signature = Buffer.from(data.subarray(0, 6)).toString('latin1');
  if (signature !== 'GIF89a' && signature !== 'GIF87a') throw new Error('not a GIF');
  let pos = 13 + colorTableBytes(data[10]); // signature + logical screen descriptor + global palette
  let images = 0;
  const skipSubBlocks = (): void => {
    for (;;) {
      if (pos >= data.length) throw new Error('GIF cut inside a block');
      const size = data[pos++];
      if (size === 0) return;
      pos += size;
    }
  };
  while (images < n) {
    const introducer = data[pos];
    if (introducer === EXTENSION) {
      pos += 2;
      skipSubBlocks();
    } else if (introducer === IMAGE) {
      pos += 10 + colorTableBytes(data[pos + 9]) + 1; // descriptor + local palette + LZW minimum code size
      skipSubBlocks();
      images++;
    } else {
      throw new Error(`the GIF has ${images} frames, fewer than ${n}`);
    }
  }
  return Buffer.concat([data.subarray(0, pos), Buffer.from([TRAILER])]);
}

/** Bytes of the colour table announced by packed fields (bit 7: present; bits 0-2: size). */
function colorTableBytes(packed: number): number {
  return packed & 0x80 ? 3 * 2 ** ((packed & 0x07) + 1) : 0;
}
