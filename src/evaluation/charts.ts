/**
 * The evaluation report's three charts as SVG documents: confusion matrix, ROC curve, learning
 * curves. Rasterize with `svgToPng`.
 */
import type { GroupReport } from './group-metrics.js';
import type { Confusion, RocPoint } from './metrics.js';
import { plotAxes, plotSeries, svgDocument, svgText, type PlotFrame, type Series } from './svg-chart.js';
import type { EpochRecord } from './training-history.js';

const BLUE = '#1f77b4';
const ORANGE = '#ff7f0e';
const GREY = '#888';

/** Cell colour from white (0) to dark blue (1) by the row's share, so each true class reads on its own. */
function cellColour(share: number): string {
  const mix = (from: number, to: number) => Math.round(from + (to - from) * share);
  return `rgb(${mix(247, 8)},${mix(251, 48)},${mix(255, 107)})`;
}

/**
 * Rows = true class, columns = predicted class; each cell shows its count and its share of the row
 * (= recall on the diagonal).
 */
export function confusionMatrixSvg(
  confusion: Confusion,
  labels: readonly string[],
  title = 'Confusion matrix',
): string {
  const cell = 120;
  const left = 150;
  const top = 90;
  const size = cell * labels.length;
  const parts = [svgText((left + size + 40) / 2 + 20, 30, title, { size: 16, weight: 'bold', anchor: 'middle' })];
  parts.push(svgText(left + size / 2, top - 36, 'predicted', { anchor: 'middle' }));
  parts.push(svgText(left - 100, top + size / 2, 'true', { anchor: 'middle', rotate: -90 }));
  labels.forEach((truth, r) => {
    const total = labels.reduce((s, p) => s + confusion[truth][p], 0);
    parts.push(svgText(left - 10, top + r * cell + cell / 2 + 5, truth, { anchor: 'end' }));
    labels.forEach((predicted, c) => {
      const count = confusion[truth][predicted];
      const share = total > 0 ? count / total : 0;
      const x = left + c * cell;
      const y = top + r * cell;
      const ink = share > 0.5 ? '#fff' : '#222';
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${cellColour(share)}" stroke="#444"/>`,
      );
      parts.push(
        svgText(x + cell / 2, y + cell / 2, String(count), { size: 22, anchor: 'middle', weight: 'bold', fill: ink }),
      );
      parts.push(
        svgText(x + cell / 2, y + cell / 2 + 22, `${(100 * share).toFixed(1)}%`, {
          size: 12,
          anchor: 'middle',
          fill: ink,
        }),
      );
    });
  });
  labels.forEach((predicted, c) =>
    parts.push(svgText(left + c * cell + cell / 2, top - 10, predicted, { anchor: 'middle' })),
  );
  return svgDocument(left + size + 40, top + size + 30, parts);
}

/** ROC curve of the positive label's probability, with the chance diagonal and the AUC in the title. */
export function rocSvg(points: readonly RocPoint[], auc: number | null, positiveLabel: string): string {
  const frame: PlotFrame = {
    left: 70,
    top: 50,
    width: 380,
    height: 380,
    x: [0, 1],
    y: [0, 1],
    xLabel: 'false-positive rate',
    yLabel: `true-positive rate (${positiveLabel})`,
  };
  const series: Series[] = [
    { name: 'model', points: points.map((p) => [p.fpr, p.tpr] as const), color: BLUE },
    {
      name: 'chance',
      points: [
        [0, 0],
        [1, 1],
      ],
      color: GREY,
      dashed: true,
    },
  ];
  const title = `ROC, positive = ${positiveLabel}, AUC ${auc === null ? 'n/a' : auc.toFixed(4)}`;
  const parts = [svgText(frame.left + frame.width / 2, 30, title, { size: 16, weight: 'bold', anchor: 'middle' })];
  if (points.length === 0) {
    parts.push(
      svgText(frame.left + frame.width / 2, frame.top + frame.height / 2, 'needs both classes among detected faces', {
        anchor: 'middle',
      }),
    );
  }
  return svgDocument(frame.left + frame.width + 30, frame.top + frame.height + 50, [
    ...parts,
    ...plotAxes(frame),
    ...plotSeries(frame, series, 'bottom'),
  ]);
}

function seriesOf(history: readonly EpochRecord[], key: keyof EpochRecord): readonly (readonly [number, number])[] {
  return history.flatMap((r) => (typeof r[key] === 'number' ? [[r.epoch, r[key] as number] as const] : []));
}

/**
 * Two panels side by side: loss and accuracy per epoch, train (solid) and validation (dashed).
 * `valName` names the dashed curves (a model trained on train + val says so there).
 */
export function learningCurvesSvg(history: readonly EpochRecord[], modelId: string, valName = 'val'): string {
  // Axis from 0 to a multiple of the tick count, so every tick falls on a whole epoch.
  const last = Math.max(1, ...history.map((r) => r.epoch));
  const ticks = Math.min(5, last);
  const x: [number, number] = [0, Math.ceil(last / ticks) * ticks];
  const losses = [...seriesOf(history, 'train_loss'), ...seriesOf(history, 'val_loss')].map((p) => p[1]);
  const lossTop = losses.length > 0 ? Math.ceil(Math.max(...losses) * 10) / 10 : 1;
  const accs = [...seriesOf(history, 'train_acc'), ...seriesOf(history, 'val_acc')].map((p) => p[1]);
  const accBottom = accs.length > 0 ? Math.floor(Math.min(...accs) * 10) / 10 : 0;
  const loss: PlotFrame = {
    left: 70,
    top: 60,
    width: 360,
    height: 300,
    x,
    y: [0, lossTop],
    xLabel: 'epoch',
    yLabel: 'loss',
    ticks,
  };
  const acc: PlotFrame = { ...loss, left: 540, y: [Math.min(accBottom, 0.9), 1], yLabel: 'accuracy' };
  const parts = [svgText(485, 30, `Learning curves — ${modelId}`, { size: 16, weight: 'bold', anchor: 'middle' })];
  parts.push(
    ...plotAxes(loss),
    ...plotSeries(loss, [
      { name: 'train loss', points: seriesOf(history, 'train_loss'), color: BLUE },
      { name: `${valName} loss`, points: seriesOf(history, 'val_loss'), color: ORANGE, dashed: true },
    ]),
  );
  parts.push(
    ...plotAxes(acc),
    ...plotSeries(
      acc,
      [
        { name: 'train acc', points: seriesOf(history, 'train_acc'), color: BLUE },
        { name: `${valName} acc`, points: seriesOf(history, 'val_acc'), color: ORANGE, dashed: true },
      ],
      'bottom',
    ),
  );
  return svgDocument(940, 420, parts);
}

/**
 * Accuracy per age band and ethnicity group as horizontal bars (0.5 to 1 across the width, so the
 * differences that matter are visible), each labelled with its accuracy and image count.
 */
export function groupAccuracySvg(groups: GroupReport, title = 'Accuracy per group (no face = wrong)'): string {
  const sections = [
    ['age band', groups.age],
    ['ethnicity', groups.race],
  ] as const;
  const left = 150;
  const barWidth = 420;
  const rowHeight = 24;
  const parts = [svgText(left + barWidth / 2, 28, title, { size: 16, weight: 'bold', anchor: 'middle' })];
  let y = 56;
  const x = (accuracy: number) => left + (Math.max(0.5, accuracy) - 0.5) * 2 * barWidth;
  for (const [name, rows] of sections) {
    if (rows.length === 0) continue;
    parts.push(svgText(10, y + 14, name, { weight: 'bold' }));
    y += rowHeight;
    for (const row of rows) {
      const worst = groups.worst?.group === row.group;
      parts.push(svgText(left - 10, y + 15, row.group, { anchor: 'end' }));
      parts.push(
        `<rect x="${left}" y="${y + 3}" width="${x(row.accuracy) - left}" height="${rowHeight - 8}" fill="${worst ? ORANGE : BLUE}"/>`,
      );
      parts.push(
        svgText(x(row.accuracy) + 6, y + 15, `${(row.accuracy * 100).toFixed(1)} % (n ${row.n})`, { size: 12 }),
      );
      y += rowHeight;
    }
    y += 8;
  }
  for (const tick of [0.5, 0.75, 0.9, 1]) {
    parts.push(`<line x1="${x(tick)}" y1="44" x2="${x(tick)}" y2="${y}" stroke="${GREY}" stroke-dasharray="3 3"/>`);
    parts.push(svgText(x(tick), y + 16, `${tick * 100} %`, { size: 11, anchor: 'middle', fill: GREY }));
  }
  return svgDocument(left + barWidth + 130, y + 30, parts);
}
