// A one-line progress display on a terminal (bytes done, rate, ETA); silent when stderr is not a TTY.

export class Progress {
  private done_ = 0;
  private t0 = Date.now();
  private last = 0;
  private readonly active: boolean;

  /** `unit`: bytes of source per element counted with add(elements · unit). */
  constructor(private total: number, readonly unit: number, quiet: boolean, private label = '') {
    this.active = !quiet && !!process.stderr.isTTY;
  }

  add(bytes: number, what = ''): void {
    this.done_ += bytes;
    if (!this.active) return;
    const now = Date.now();
    if (now - this.last < 100 && this.done_ < this.total) return;
    this.last = now;
    const secs = (now - this.t0) / 1000;
    const rate = secs > 0 ? this.done_ / secs : 0;
    const eta = rate > 0 ? (this.total - this.done_) / rate : 0;
    const pct = this.total ? (100 * this.done_) / this.total : 100;
    const line = `${this.label}${pct.toFixed(1).padStart(5)}%  ${mb(this.done_)} / ${mb(this.total)}  ${mb(rate)}/s  ETA ${fmtTime(eta)}  ${what}`;
    process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 100) - 1).padEnd((process.stderr.columns || 100) - 1)}`);
  }

  done(): void {
    if (this.active) process.stderr.write('\n');
  }
}

function mb(b: number): string {
  return b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}
