/**
 * Just enough SVG to draw the report's charts (text, a framed plot with ticks, polylines) and turn
 * them into PNG with sharp (libvips renders SVG through librsvg, text through fontconfig). No chart
 * library: three small charts do not justify a browser-oriented dependency.
 */
import sharp from 'sharp';

export const FONT = 'DejaVu Sans, Arial, sans-serif';

/** Escapes text for SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );
}

export interface TextOptions {
  /** Font size, px. Default 13. */
  readonly size?: number;
  readonly anchor?: 'start' | 'middle' | 'end';
  readonly weight?: 'normal' | 'bold';
  readonly fill?: string;
  /** Rotation in degrees about (x, y). */
  readonly rotate?: number;
}

export function svgText(x: number, y: number, content: string, options: TextOptions = {}): string {
  const rotate = options.rotate ? ` transform="rotate(${options.rotate} ${x} ${y})"` : '';
  return (
    `<text x="${x}" y="${y}" font-family="${FONT}" font-size="${options.size ?? 13}" text-anchor="${options.anchor ?? 'start'}" ` +
    `font-weight="${options.weight ?? 'normal'}" fill="${options.fill ?? '#222'}"${rotate}>${escapeXml(content)}</text>`
  );
}

/** A complete SVG document with a white background. Sizes in px. */
export function svgDocument(width: number, height: number, body: readonly string[]): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<rect width="${width}" height="${height}" fill="#fff"/>${body.join('')}</svg>`
  );
}

/** Rasterizes an SVG document to PNG bytes at its own size (1 SVG px = 1 image px). */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density: 72 }).png().toBuffer();
}

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color: string;
  readonly dashed?: boolean;
}

export interface PlotFrame {
  /** Plot area in document px. */
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  readonly x: readonly [number, number];
  readonly y: readonly [number, number];
  readonly xLabel: string;
  readonly yLabel: string;
  /** Tick count per axis. Default 5. */
  readonly ticks?: number;
}

/** Short tick text: integers as is, otherwise up to 3 significant digits. */
function tickText(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

/** Maps data coordinates into the plot area (y grows upwards). */
export function project(frame: PlotFrame, x: number, y: number): [number, number] {
  const [x0, x1] = frame.x;
  const [y0, y1] = frame.y;
  const px = frame.left + ((x - x0) / (x1 - x0 || 1)) * frame.width;
  const py = frame.top + frame.height - ((y - y0) / (y1 - y0 || 1)) * frame.height;
  return [Math.round(px * 10) / 10, Math.round(py * 10) / 10];
}

/** Frame, grid lines, ticks and axis labels. */
export function plotAxes(frame: PlotFrame): string[] {
  const ticks = frame.ticks ?? 5;
  const { left, top, width, height } = frame;
  const parts = [`<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="none" stroke="#444"/>`];
  for (let i = 0; i <= ticks; i++) {
    const xv = frame.x[0] + ((frame.x[1] - frame.x[0]) * i) / ticks;
    const yv = frame.y[0] + ((frame.y[1] - frame.y[0]) * i) / ticks;
    const [px] = project(frame, xv, frame.y[0]);
    const [, py] = project(frame, frame.x[0], yv);
    parts.push(`<line x1="${px}" y1="${top}" x2="${px}" y2="${top + height}" stroke="#e4e4e4"/>`);
    parts.push(`<line x1="${left}" y1="${py}" x2="${left + width}" y2="${py}" stroke="#e4e4e4"/>`);
    parts.push(svgText(px, top + height + 16, tickText(xv), { size: 11, anchor: 'middle' }));
    parts.push(svgText(left - 6, py + 4, tickText(yv), { size: 11, anchor: 'end' }));
  }
  parts.push(svgText(left + width / 2, top + height + 36, frame.xLabel, { anchor: 'middle' }));
  parts.push(svgText(left - 42, top + height / 2, frame.yLabel, { anchor: 'middle', rotate: -90 }));
  return parts;
}

/**
 * Polylines for each series (a lone point becomes a dot) and a legend in a right-hand corner:
 * `top` (default) where curves fall, `bottom` where they rise (accuracy, ROC).
 */
export function plotSeries(frame: PlotFrame, series: readonly Series[], legend: 'top' | 'bottom' = 'top'): string[] {
  const parts: string[] = [];
  for (const s of series) {
    const pts = s.points.map(([x, y]) => project(frame, x, y));
    if (pts.length === 1) {
      parts.push(`<circle cx="${pts[0][0]}" cy="${pts[0][1]}" r="3" fill="${s.color}"/>`);
    } else if (pts.length > 1) {
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
      parts.push(
        `<polyline points="${pts.map((p) => p.join(',')).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`,
      );
    }
  }
  series.forEach((s, i) => {
    const y = legend === 'top' ? frame.top + 18 + i * 18 : frame.top + frame.height - 10 - (series.length - 1 - i) * 18;
    const x = frame.left + frame.width - 150;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<line x1="${x}" y1="${y - 4}" x2="${x + 24}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    parts.push(svgText(x + 30, y, s.name, { size: 12 }));
  });
  return parts;
}
