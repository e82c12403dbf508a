/**
 * What evaluation found for one image: the record that the summary, the per-group tables and the report
 * all read (its own file, so that they import it without importing the evaluation run).
 */

export type ImageStatus = 'classified' | 'no face' | 'unreadable';

export interface ImageOutcome {
  /** Path relative to the evaluated folder, e.g. `male/000123.jpg`. */
  readonly file: string;
  readonly truth: string;
  readonly status: ImageStatus;
  /**
   * Decided label (classified images only). Three or more labels: the most probable one, also where it
   * is below the model's unsure floor (`unsure` says so), so the confusion matrix covers every face.
   */
  readonly predicted?: string;
  /** Three or more labels: the largest probability was below the model's unsure floor (events say `unknown`). */
  readonly unsure?: boolean;
  /** Another face was nearly as large; the most central one was classified. */
  readonly crowded?: boolean;
  /**
   * Classified images only: two labels, the probability of the model's positive label; more, the
   * probability of `predicted` (the largest).
   */
  readonly probability?: number;
  /** Error message of an unreadable image. */
  readonly detail?: string;
  /** Decode → classify, milliseconds (file reading excluded). */
  readonly msImage: number;
  /** Classifier invoke (input fill + interpreter), milliseconds (classified images only). */
  readonly msFace?: number;
}
