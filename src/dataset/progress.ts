/** A one-line progress display on a terminal; periodic plain lines when stderr is not a TTY. */
export class Progress {
  #done = 0;
  #lastPrint = 0;
  readonly #started = performance.now();

  readonly #total: number;
  readonly #label: string;
  readonly #stream: NodeJS.WriteStream;

  constructor(total: number, label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#total = total;
    this.#label = label;
    this.#stream = stream;
  }

  tick(note = ''): void {
    this.#done++;
    const now = performance.now();
    const interval = this.#stream.isTTY ? 200 : 10_000;
    if (now - this.#lastPrint < interval && this.#done < this.#total) return;
    this.#lastPrint = now;
    const rate = this.#done / ((now - this.#started) / 1000);
    const eta = rate > 0 ? Math.round((this.#total - this.#done) / rate) : 0;
    const line = `${this.#label} ${this.#done}/${this.#total} (${Math.round((100 * this.#done) / this.#total)}%) ${rate.toFixed(0)}/s eta ${eta}s ${note}`;
    this.#stream.write(this.#stream.isTTY ? `\r${line.padEnd(100)}` : `${line}\n`);
    if (this.#stream.isTTY && this.#done === this.#total) this.#stream.write('\n');
  }
}
