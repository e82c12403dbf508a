/**
 * Synthetic camera scenes for the bench's CPU-per-camera figure, generated at bench start (nothing is
 * downloaded): a 1280×720 room without people, as JPEG frames (quality 85) like an MJPEG camera sends.
 *
 * - `still`: the room, with the few grey levels of sensor noise every real camera adds to each frame;
 * - `motion`: the same room under a flickering light (±4 % brightness), stronger noise, and a small
 *   swaying object (a plant leaf, about 0.2 % of the frame): the kind of change that must not wake the
 *   detector on every frame.
 */
import sharp from 'sharp';

export type EmptyScene = 'still' | 'motion';

/** Deterministic xorshift32 in [0, 1): the same frames on every run and every build. */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** The empty room: a lit wall, a floor, a door and a picture, with a static texture. */
function room(width: number, height: number): Float32Array {
  const rnd = random(7);
  const px = new Float32Array(width * height * 3);
  const floorY = Math.round(height * 0.72);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const light = 1 - 0.35 * Math.hypot((x - width * 0.3) / width, (y - height * 0.2) / height);
      let r = 196 * light;
      let g = 188 * light;
      let b = 170 * light;
      if (y >= floorY) {
        const plank = Math.floor(x / 90 + (y - floorY) / 40) % 2 === 0 ? 1 : 0.9;
        r = 120 * plank * light;
        g = 86 * plank * light;
        b = 60 * plank * light;
      } else if (x > width * 0.62 && x < width * 0.8 && y > height * 0.12) {
        r = 90 * light;
        g = 70 * light;
        b = 55 * light; // the door
      } else if (x > width * 0.15 && x < width * 0.35 && y > height * 0.2 && y < height * 0.45) {
        r = 60 + 120 * (x / width);
        g = 110;
        b = 150 - 80 * (y / height); // the picture
      }
      const grain = (rnd() - 0.5) * 10; // plaster / wood texture, fixed over time
      px[o] = r + grain;
      px[o + 1] = g + grain;
      px[o + 2] = b + grain;
    }
  }
  return px;
}

/** `count` JPEG frames of an empty scene at `width` × `height`. */
export async function emptySceneFrames(
  scene: EmptyScene,
  count: number,
  width = 1280,
  height = 720,
): Promise<Buffer[]> {
  const base = room(width, height);
  const rnd = random(scene === 'still' ? 11 : 13);
  const noise = scene === 'still' ? 2 : 4;
  const frames: Buffer[] = [];
  const leafW = Math.round(width * 0.045);
  const leafH = Math.round(height * 0.045);
  for (let i = 0; i < count; i++) {
    // Light flicker: a slow drift plus a faster beat, as from a failing tube or a dimmer.
    const gain =
      scene === 'motion' ? 1 + 0.03 * Math.sin((2 * Math.PI * i) / 45) + 0.01 * Math.sin((2 * Math.PI * i) / 4) : 1;
    const leafX = Math.round(width * 0.08 + Math.sin((2 * Math.PI * i) / 30) * width * 0.01);
    const leafY = Math.round(height * 0.6);
    const out = Buffer.alloc(width * height * 3);
    for (let p = 0, y = 0; y < height; y++) {
      const inLeafRow = scene === 'motion' && y >= leafY && y < leafY + leafH;
      for (let x = 0; x < width; x++, p += 3) {
        const n = (rnd() + rnd() - 1) * noise;
        if (inLeafRow && x >= leafX && x < leafX + leafW) {
          out[p] = 40 + n;
          out[p + 1] = 120 + n;
          out[p + 2] = 45 + n;
          continue;
        }
        out[p] = clamp(base[p] * gain + n);
        out[p + 1] = clamp(base[p + 1] * gain + n);
        out[p + 2] = clamp(base[p + 2] * gain + n);
      }
    }
    frames.push(
      await sharp(out, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: 85 })
        .toBuffer(),
    );
  }
  return frames;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}
