/**
 * The one progress display of `faceedge train`: the stage, a bar with the time left, and each epoch's validation
 * figures. On a terminal the bar is redrawn in place (stderr); elsewhere (CI, a log file) only whole lines are
 * written: one per stage and one per epoch, so a log stays readable.
 */

export type TrainStage = 'split' | 'prepare' | 'train' | 'export' | 'verify' | 'package' | 'embed' | 'heads' | 'report';

export const TRAIN_STAGES: readonly TrainStage[] = ['split', 'prepare', 'train', 'export', 'verify', 'package'];

/** The stages of `faceedge train --on-embedding` (src/training/embedding-head-pipeline.ts). */
export const EMBEDDING_HEAD_STAGES: readonly TrainStage[] = ['split', 'embed', 'heads', 'export', 'report', 'package'];

export interface ProgressSink {
  write(text: string): void;
  /** Whether the sink is a terminal that understands `\r` and erasing a line. */
  readonly interactive: boolean;
}

const BAR_WIDTH = 24;

/** `3m05s`, `1h02m`, `45s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `[#########...............]` for a fraction in 0..1. */
export function progressBar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
}

/** The validation figure an epoch record is judged by: macro recall for N classes, accuracy for two. */
export function epochSummary(record: Record<string, unknown>): string {
  const parts: string[] = [];
  const pct = (key: string, name: string) => {
    const v = record[key];
    if (typeof v === 'number') parts.push(`${name} ${(v * 100).toFixed(1)}%`);
  };
  pct('val_acc', 'val accuracy');
  pct('val_macro_recall', 'macro recall');
  pct('val_off_by_more_than_one', 'off by >1');
  if (typeof record.val_auc === 'number') parts.push(`AUC ${record.val_auc.toFixed(4)}`);
  return parts.join(', ');
}

export class TrainProgress {
  readonly #sink: ProgressSink;
  #stage: TrainStage | null = null;
  #barShown = false;
  readonly #stages: readonly TrainStage[];

  /** `stages`: the run's stages in order, for the `[n/N stage]` lines (default {@link TRAIN_STAGES}). */
  constructor(sink: ProgressSink, stages: readonly TrainStage[] = TRAIN_STAGES) {
    this.#sink = sink;
    this.#stages = stages;
  }

  /** Whether the display is a terminal (tools with their own progress lines show them only there). */
  get interactive(): boolean {
    return this.#sink.interactive;
  }

  /** A new stage: `[2/6 prepare] <what>`. */
  stage(stage: TrainStage, what: string): void {
    this.#stage = stage;
    this.line(`[${this.#stages.indexOf(stage) + 1}/${this.#stages.length} ${stage}] ${what}`);
  }

  /** A whole line (erasing the bar first on a terminal). */
  line(text: string): void {
    this.#clearBar();
    this.#sink.write(`${text}\n`);
  }

  /** The bar: a terminal gets it redrawn in place; a log gets nothing (epoch lines carry the news). */
  bar(fraction: number, etaS: number | null, detail: string): void {
    if (!this.#sink.interactive) return;
    const eta = etaS === null ? '' : ` ${formatDuration(etaS)} left`;
    this.#sink.write(
      `\r\x1b[2K  ${this.#stage ?? ''} ${progressBar(fraction)} ${Math.floor(fraction * 100)}%${eta} ${detail}`,
    );
    this.#barShown = true;
  }

  /** One event of the training engine (train/README.md, "Driving a run"). */
  engineEvent(event: Record<string, unknown>): void {
    const num = (key: string) => (typeof event[key] === 'number' ? event[key] : null);
    switch (event.event) {
      case 'start': {
        const resumed = event.resumed === true ? `, resumed after epoch ${num('start_epoch') ?? 0}` : '';
        this.line(
          `  ${JSON.stringify(event.labels)}: ${num('epochs')} epochs of ${num('steps_per_epoch')} steps${resumed}`,
        );
        break;
      }
      case 'step': {
        const epochs = num('epochs') ?? 1;
        const steps = num('steps') ?? 1;
        const done = ((num('epoch') ?? 1) - 1 + (num('step') ?? 0) / steps) / epochs;
        const rate = num('images_per_s');
        this.bar(
          done,
          num('eta_s'),
          `epoch ${num('epoch')}/${epochs}${rate === null ? '' : `, ${Math.round(rate)} faces/s`}`,
        );
        break;
      }
      case 'epoch': {
        const eta = num('eta_s');
        this.line(
          `  epoch ${num('epoch')}: ${epochSummary(event)}${eta === null || eta <= 0 ? '' : ` (${formatDuration(eta)} left)`}`,
        );
        break;
      }
      case 'stopped':
        this.line(`  stopped by ${String(event.signal)} at epoch ${num('epoch')}, step ${num('step')}`);
        break;
      case 'error':
        this.line(`  error: ${String(event.message)}${event.hint ? ` (${String(event.hint)})` : ''}`);
        break;
      default:
        break; // `stage`, `data` and `done` are reported by the stages that wait for them
    }
  }

  #clearBar(): void {
    if (!this.#barShown) return;
    this.#sink.write('\r\x1b[2K');
    this.#barShown = false;
  }
}
