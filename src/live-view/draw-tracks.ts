/**
 * Draws the tracked faces onto an RGB frame for the live view: a box per face and a label above it
 * with the track id, the decided class and its confidence. Confirmed tracks (their `new` event is out)
 * are drawn in their class's colour; tracks still waiting for `tracker.min_frames` are grey, their
 * label ending in `?`.
 */
import type { RgbImage } from '../capture/frame.js';
import type { VisibleTrack } from '../pipeline/face-tracker.js';
import { drawText, fillRect, GLYPH_HEIGHT, textWidth, type Rgb } from './bitmap-font.js';

/** Colours of the classifier's first and second label (orange, blue), and of unconfirmed tracks. */
export const CLASS_COLOURS: readonly [Rgb, Rgb] = [
  [255, 150, 0],
  [0, 170, 255],
];
export const TENTATIVE_COLOUR: Rgb = [200, 200, 200];
const INK: Rgb = [0, 0, 0];

/** The label drawn above a track's box, e.g. `door-7 female 93%`. */
export function trackLabel(track: VisibleTrack): string {
  const text = `${track.id} ${track.class} ${Math.round(track.score * 100)}%`;
  return track.confirmed ? text : `${text} ?`;
}

/** The colour of a track: by its class's position in `labels`, grey while unconfirmed. */
export function trackColour(track: VisibleTrack, labels: readonly string[]): Rgb {
  if (!track.confirmed) return TENTATIVE_COLOUR;
  return CLASS_COLOURS[labels.indexOf(track.class) === 1 ? 1 : 0];
}

/**
 * Draws `tracks` into `image` in place (the caller owns the buffer). Lines and text scale with the
 * frame: 1 font pixel per 270 rows of image, so labels read the same at 480×270 and 1920×1080.
 * @param labels the classifier's labels, [first, second], which pick the colours.
 */
export function drawTracks(image: RgbImage, tracks: readonly VisibleTrack[], labels: readonly string[]): void {
  const scale = Math.max(1, Math.round(Math.min(image.width, image.height) / 270));
  const stroke = 2 * scale;
  for (const track of tracks) {
    const { x, y, width, height } = track.box;
    const colour = trackColour(track, labels);
    fillRect(image, x - stroke, y - stroke, width + 2 * stroke, stroke, colour);
    fillRect(image, x - stroke, y + height, width + 2 * stroke, stroke, colour);
    fillRect(image, x - stroke, y, stroke, height, colour);
    fillRect(image, x + width, y, stroke, height, colour);
    const label = trackLabel(track);
    const pad = scale;
    const labelHeight = GLYPH_HEIGHT * scale + 2 * pad;
    // Above the box, or inside its top edge when the box touches the top of the frame.
    const labelY = y - stroke - labelHeight >= 0 ? y - stroke - labelHeight : y;
    const labelX = Math.min(Math.max(0, x - stroke), Math.max(0, image.width - textWidth(label, scale) - 2 * pad));
    fillRect(image, labelX, labelY, textWidth(label, scale) + 2 * pad, labelHeight, colour);
    drawText(image, labelX + pad, labelY + pad, label, INK, scale);
  }
}
