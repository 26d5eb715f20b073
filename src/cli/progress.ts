/**
 * Progress of a migration on the terminal, in three forms: bars redrawn in place on a TTY (one per
 * shard pair, since a plan has many small ranges per pair, plus an overall bar with rate and ETA),
 * plain lines for logs and pipes (phases, waits, a progress line at most every few seconds), and
 * `--json` (every migration event as one JSON line). A small own renderer rather than a dependency:
 * all it needs is "move the cursor up N lines and clear them".
 */
import { redactedJson } from '../redact.js';
import { systemClock, type Clock } from '../clock.js';
import { etaMs, type MigrationEvent } from '../rebalance/events.js';
import type { CliStream } from './io.js';

/** How progress is shown. */
export type ProgressMode = 'tty' | 'plain' | 'json';

/** What a progress display needs to know before the first event (optional). */
export interface PlannedMove {
  readonly from: string;
  readonly to: string;
  /** Documents expected to move (counted at the source). */
  readonly estimated: number;
  /** Documents already carried (a resume seeds this from the journal). */
  readonly copied?: number;
}

/** Options of {@link MigrationProgress}. */
export interface MigrationProgressOptions {
  readonly mode: ProgressMode;
  /** Time source: redraws are spaced on its monotonic `now()`. Default `systemClock`. */
  readonly clock?: Clock;
  /** Minimum time between two TTY redraws (ms, default 100). */
  readonly redrawMs?: number;
  /** Minimum time between two plain progress lines (ms, default 2000). */
  readonly plainEveryMs?: number;
  /** Bar width in cells (default: fits the stream's columns). */
  readonly barWidth?: number;
  /** Extra text for the overall line (e.g. the demo's writer counters). */
  readonly extra?: () => string;
}

interface PairState {
  copied: number;
  estimated: number;
}

const ESC = '\u001b[';
/** The throttle holds the copy while its pace is under this many times the copy's rate; above, it only allows it. */
const THROTTLE_BOUNDS = 2;

/** A bar of `width` cells filled to `fraction` (clamped to 0..1). */
export function progressBar(fraction: number, width: number): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const full = Math.round(f * width);
  return `${'█'.repeat(full)}${'░'.repeat(Math.max(0, width - full))}`;
}

/** `ms` as `1h02m`, `3m05s` or `12s`; `--` when unknown. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '--';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function pct(done: number, total: number): string {
  return total <= 0 ? '100%' : `${Math.min(100, Math.floor((done * 100) / total))}%`.padStart(4);
}

/**
 * Renders migration events to a stream. Feed it every event (`onEvent`), call `log()` for any other
 * line (it keeps the bars below the text), and `finish()` once at the end.
 */
export class MigrationProgress {
  readonly #out: CliStream;
  readonly #mode: ProgressMode;
  readonly #clock: Clock;
  readonly #redrawMs: number;
  readonly #plainEveryMs: number;
  readonly #barWidth: number;
  readonly #extra: (() => string) | undefined;
  readonly #moves = new Map<number, { from: string; to: string; copied: number; estimated: number }>();
  #phase = '';
  /** Moves done in the current per-move phase, from the journal, and when/where this run's count of it began. */
  #step: { done: number; total: number; doneAtStart: number; startedAt: number } | null = null;
  /** Markers cleanup or purge deleted in this phase so far (`markersDeleted` events). */
  #stepMarkers = 0;
  /** Markers cleanup or purge listed in this phase so far (`markersListed` events): found, not all there are. */
  #stepListed = 0;
  /** Journal totals of the copy from the last progress event (they include what a previous run copied). */
  #journalTotals: { copied: number; estimated: number } | null = null;
  readonly #startedAt: number;
  /** When the current phase's per-move work began: after its router-lease wait, if any. */
  #phaseStartedAt = 0;
  #reverse = false;
  /**
   * This run's copied documents and copying time at the last progress event, and when it came. The
   * rate shown divides by the time passed since: the event's own rate, taken just after a batch, read
   * "80/1887 docs, 106 docs/s" four seconds into a copy going at 20.
   */
  #run: { copied: number; elapsedMs: number; at: number } | null = null;
  #drawn = 0;
  #lastDraw = Number.NEGATIVE_INFINITY;
  #lastPlain = Number.NEGATIVE_INFINITY;
  #lastPlainFigures = '';
  #verify = { moves: 0, checked: 0, repaired: 0, mismatches: 0 };
  #cleaned = { moves: 0, deleted: 0 };
  /**
   * The pace the adaptive throttle holds the copy at, and why; null while it runs at full speed.
   * `p99Ms` is the last decision window's (null until one decided: the baseline's p99 is another statistic).
   */
  #pace: { docsPerSec: number; p99Ms: number | null; limitMs: number } | null = null;
  /** The pace the last logged slowdown named; null at full speed. */
  #saidPace: number | null = null;

  constructor(out: CliStream, options: MigrationProgressOptions) {
    this.#out = out;
    this.#mode = options.mode;
    this.#clock = options.clock ?? systemClock;
    this.#redrawMs = options.redrawMs ?? 100;
    this.#plainEveryMs = options.plainEveryMs ?? 2000;
    this.#barWidth = options.barWidth ?? Math.max(10, Math.min(40, (out.columns ?? 80) - 60));
    this.#extra = options.extra;
    this.#startedAt = this.#clock.now();
  }

  /** Seed the per-pair totals from the plan, so bars show their size before the first batch. */
  plan(moves: readonly PlannedMove[]): void {
    moves.forEach((m, i) => this.#moves.set(i, { from: m.from, to: m.to, copied: m.copied ?? 0, estimated: m.estimated }));
  }

  /** Handle one migration event. */
  onEvent(event: MigrationEvent): void {
    if (this.#mode === 'json') {
      this.#out.write(`${redactedJson(event)}\n`);
      return;
    }
    switch (event.type) {
      case 'phase':
        this.#onPhase(event);
        break;
      case 'progress':
        this.#moves.set(event.move, { from: event.from, to: event.to, copied: event.copied, estimated: event.estimated });
        this.#run = { copied: event.runCopied, elapsedMs: event.runElapsedMs, at: this.#clock.now() };
        this.#journalTotals = { copied: event.totalCopied, estimated: event.totalEstimated };
        this.#tick(false);
        break;
      case 'phaseProgress':
        // The copy has finer figures (documents, from its progress events) than ranges done.
        if (event.phase !== 'copy') this.#onStep(event.done, event.total, event.atStart === true);
        break;
      case 'wait':
        this.#phaseStartedAt = this.#clock.now() + event.ms;
        this.log(
          event.reason === 'routerLease'
            ? `waiting ${formatDuration(event.ms)} for every router's lease on the old routing state to run out`
            : `waiting ${formatDuration(event.ms)} for the migration lock held by another process`,
        );
        break;
      case 'verified':
        this.#verify.moves += 1;
        this.#verify.checked += event.checked;
        this.#verify.repaired += event.repaired;
        this.#verify.mismatches += event.mismatches;
        break;
      case 'cleanup':
        this.#cleaned.moves += 1;
        this.#cleaned.deleted += event.deleted;
        break;
      case 'markersDeleted':
        this.#stepMarkers += event.deleted;
        if (this.#step !== null) this.#tick(false);
        break;
      case 'markersListed':
        this.#stepListed += event.listed;
        break;
      case 'throttle':
        this.#onThrottle(event);
        break;
      case 'abortRequested':
        this.log(`abort requested by ${event.by}: carrying everything back to the old owners`);
        break;
      case 'retry':
        this.log(`retrying phase ${event.phase} in ${formatDuration(event.delayMs)} (attempt ${event.attempt}): ${event.message}`);
        break;
      case 'done':
        this.#phaseEnded();
        this.log(
          `migration ${event.outcome}: ${event.counters.docsMoved} documents moved, ${event.counters.docsRead} read, ` +
            `${event.counters.swept} swept, ${event.counters.repaired} repaired, ${event.counters.deleted} markers cleaned up`,
        );
        break;
    }
  }

  /** A phase begins (or begins again after a retry). */
  #onPhase(event: Extract<MigrationEvent, { type: 'phase' }>): void {
    if (event.phase === this.#phase && event.reverse === this.#reverse) {
      // The same phase again after a retry: it did not end, so no end-of-phase figures (a copy
      // retried after a shard's timeout read "copy 100%" and "found 22,064 of 41,520" each time).
      this.log(`phase ${event.phase} at epoch ${event.liveEpoch}: again, after the retry`);
      return;
    }
    // The forward leg's phase was cut short by an abort, not finished.
    this.#phaseEnded(event.reverse && !this.#reverse);
    this.#phase = event.phase;
    this.#step = null;
    this.#stepMarkers = 0;
    this.#stepListed = 0;
    this.#phaseStartedAt = this.#clock.now();
    if (event.reverse && !this.#reverse) {
      // The abort leg moves the same ranges back: start the bars again.
      this.#reverse = true;
      this.#moves.clear();
    }
    this.log(
      `phase ${event.phase}${event.reverse ? ' (abort: carrying documents back)' : ''} at epoch ${event.liveEpoch}` +
        (event.publishes === null ? '' : `, publishing epoch ${event.publishes}`),
    );
  }

  /** Print a line above the bars (TTY) or as is (plain); nothing in JSON mode. */
  log(line: string): void {
    if (this.#mode === 'json') return;
    if (this.#mode === 'tty') {
      this.#clear();
      this.#out.write(`${line}\n`);
      this.#tick(true);
      return;
    }
    this.#out.write(`${line}\n`);
  }

  /** Draw the final state of the bars and leave them on screen. */
  finish(): void {
    if (this.#mode === 'tty') {
      this.#tick(true);
      this.#drawn = 0;
    }
  }

  #phaseEnded(aborted = false): void {
    if (this.#phase === 'copy') {
      if (aborted) this.#copyAborted();
      else this.#copyEnded();
    }
    if (this.#step !== null) {
      // The phase's last figures stay on screen (or in the log); the next phase draws below them.
      if (this.#mode === 'plain') this.#plainLine();
      if (this.#mode === 'tty') this.#detach();
      this.#step = null;
    }
    if (this.#phase === 'verify' && this.#verify.moves > 0) {
      const v = this.#verify;
      this.log(`verified ${v.moves} ranges: ${v.checked} fenced entries checked, ${v.repaired} repaired, ${v.mismatches} mismatches`);
      this.#verify = { moves: 0, checked: 0, repaired: 0, mismatches: 0 };
    }
    if (this.#phase === 'cleanup' && this.#cleaned.moves > 0) {
      this.log(`cleaned up ${this.#cleaned.moves} ranges: ${this.#cleaned.deleted} fences and placeholders deleted at the old owners`);
      this.#cleaned = { moves: 0, deleted: 0 };
    }
    if (this.#phase === 'purge' && this.#cleaned.moves > 0) {
      this.log(`purged ${this.#cleaned.moves} ranges: ${this.#cleaned.deleted} tombstones and placeholders deleted at the new owners`);
      this.#cleaned = { moves: 0, deleted: 0 };
    }
  }

  /**
   * The copy was stopped by an abort: its figures stay as they were (an aborted copy read "copy 100%:
   * 4000/4000" and "the copy found 4000 of the 24929 documents counted; the other 20929 were deleted
   * since"), and the carrying back starts new bars.
   */
  #copyAborted(): void {
    const { copied, estimated } = this.#copyTotals();
    if (this.#mode === 'tty') this.#detach();
    this.log(`copy stopped by the abort after ${copied} of ${estimated} documents: those go back to their old owners`);
  }

  /**
   * The copy is over: every move's count is final, so the plan-time estimates (which counted
   * documents the application deleted since) give way to them, and the bars end at 100%.
   */
  #copyEnded(): void {
    const counted = this.#copyTotals();
    for (const m of this.#moves.values()) m.estimated = m.copied;
    if (this.#journalTotals !== null) this.#journalTotals = { copied: this.#journalTotals.copied, estimated: this.#journalTotals.copied };
    if (this.#mode === 'plain') this.#plainLine();
    if (this.#mode === 'tty') this.#detach();
    // After a kill the copy ended at `394/394` where 598 were counted, and verify then "repaired"
    // 200: say where the difference goes, or the 100% reads as if the count had been wrong.
    const missing = counted.estimated - counted.copied;
    if (missing > 0) {
      this.log(
        `the copy found ${counted.copied} of the ${counted.estimated} documents counted; the other ${missing} were deleted since, ` +
          'or fenced by an interrupted run (verify carries those and counts them as repaired)',
      );
    }
  }

  /** Draw the bars one last time and leave them where they are. */
  #detach(): void {
    this.#tick(true);
    this.#drawn = 0;
  }

  /**
   * The adaptive throttle's decisions: the baseline, each slowdown (with the p99 that caused it) and the
   * release are logged; the pace it holds shows in the copy's figures (`#throttleNote`). Raises are
   * frequent and only update the figures.
   */
  #onThrottle(event: Extract<MigrationEvent, { type: 'throttle' }>): void {
    const ms = (x: number): string => `${x.toFixed(1)} ms`;
    // The baseline's p99 is over its 40 probes, not a decision window's 8: beside the limit on the copy's
    // line it read "(last p99 10.0 ms, 6.7 ms allowed)" though nothing was over it.
    const p99Ms = event.action === 'calibrated' ? null : event.p99Ms;
    this.#pace = event.docsPerSec > 0 ? { docsPerSec: event.docsPerSec, p99Ms, limitMs: event.limitMs } : null;
    if (event.action === 'calibrated') {
      // The limit multiplies what the slowest of a decision window's probes typically took before the
      // copy, not the baseline's p99 over its longer window: said as such, so a limit below that p99 reads right.
      const n = event.windowSamples;
      this.log(
        `throttle: before copying, the slowest of ${n} probes of the shards typically took ${ms(event.baselineMs)} (p99 ${ms(event.p99Ms)}); ` +
          `the copy slows down when the slowest of ${n} takes over ${ms(event.limitMs)} twice in a row`,
      );
    } else if (event.action === 'slowed' && (this.#saidPace === null || event.docsPerSec <= this.#saidPace / 2)) {
      // Said when the copy first slows, then when it falls to half the pace last said: a pace that swings
      // around its floor window after window shows in the figures (each window's p99), not as a line each.
      this.#saidPace = event.docsPerSec;
      this.log(`throttle: p99 ${ms(event.p99Ms)} is over the ${ms(event.limitMs)} allowed, a second window in a row: copying at ${Math.round(event.docsPerSec)} docs/s`);
    } else if (event.action === 'released') {
      this.#saidPace = null;
      this.log(`throttle: p99 ${ms(event.p99Ms)} is within the ${ms(event.limitMs)} allowed: copying at full speed again`);
    }
    this.#tick(false);
  }

  /**
   * `, held at 40 docs/s by the throttle (last p99 9.1 ms, 7.5 ms allowed)` while the throttle paces the
   * copy. Once the throttle has raised its pace far past what the copy achieves (`rate`, docs/s), something else bounds
   * it (the listing, the servers): a walkthrough printed "held at 12622 docs/s by the throttle" beside
   * "380 docs/s", so the note then says what the throttle allows instead.
   */
  #throttleNote(rate: number): string {
    const p = this.#pace;
    if (p === null) return '';
    const figures = p.p99Ms === null ? `(${p.limitMs.toFixed(1)} ms allowed)` : `(last p99 ${p.p99Ms.toFixed(1)} ms, ${p.limitMs.toFixed(1)} ms allowed)`;
    if (p.docsPerSec > THROTTLE_BOUNDS * rate) return `, the throttle allows up to ${Math.round(p.docsPerSec)} docs/s ${figures}`;
    return `, held at ${Math.round(p.docsPerSec)} docs/s by the throttle ${figures}`;
  }

  #onStep(done: number, total: number, atStart: boolean): void {
    // The rate counts from where the phase started in this run, moves an earlier run finished left
    // out. Pairs finish their moves a pair at a time: counted from the first pair's end, whose moves
    // all arrive at once, a verify showed "15/51 ranges, 0.0 ranges/s, ETA 1h13m" with 2 minutes
    // left. Without a start (an older migrator's events), from the first move done here.
    this.#step ??= { done, total, doneAtStart: atStart ? done : done - 1, startedAt: this.#phaseStartedAt };
    this.#step.done = done;
    this.#step.total = total;
    this.#tick(false);
  }

  /**
   * `12/30 ranges, 2.1 ranges/s, ETA 6.0s` for the current per-move phase; in cleanup and purge also
   * the markers deleted of those found so far and their rate (`0/51 ranges, markers: 4780 deleted of
   * 5370 found so far, 0.0 ranges/s, 96 markers/s, …`): a pair's ranges end together once all its markers
   * are gone, so the ranges alone stood at 0% for minutes while thousands went.
   */
  #stepFigures(): string {
    const step = this.#step!;
    const secs = (this.#clock.now() - step.startedAt) / 1000;
    const rate = secs > 0 ? (step.done - step.doneAtStart) / secs : 0;
    let eta = step.done >= step.total ? 0 : rate > 0 ? ((step.total - step.done) * 1000) / rate : null;
    const found = this.#markersFound();
    const markers = found > 0 ? `, markers: ${this.#stepMarkers} deleted of ${found} found so far` : '';
    const markerRate = this.#stepMarkers > 0 && secs > 0 ? this.#stepMarkers / secs : 0;
    // While markers are left to delete, their rate says when the ones found so far are gone; once they
    // are, the ranges end with them, unless a pair has yet to list its own: the ranges' rate says nothing.
    if (step.done < step.total && found > 0) eta = markerRate > 0 && this.#stepMarkers < found ? ((found - this.#stepMarkers) * 1000) / markerRate : null;
    const markersPerSec = markerRate > 0 ? `, ${Math.round(markerRate)} markers/s` : '';
    return `${step.done}/${step.total} ranges${markers}, ${rate.toFixed(1)} ranges/s${markersPerSec}, ETA ${formatDuration(eta)}, elapsed ${this.#elapsed()}`;
  }

  /** Markers cleanup or purge found so far in this phase (a batch deleted was found, whatever was told). */
  #markersFound(): number {
    return Math.max(this.#stepListed, this.#stepMarkers);
  }

  /**
   * How far the current per-move phase is, as [done, total]: by ranges, or while cleanup or purge
   * delete markers, by the markers deleted of those found so far when that is further, short of the
   * whole until the ranges are done.
   */
  #stepShare(): [number, number] {
    const { done, total } = this.#step!;
    const found = this.#markersFound();
    if (done >= total || found === 0 || this.#stepMarkers * total <= done * found) return [done, total];
    return this.#stepMarkers < found ? [this.#stepMarkers, found] : [99, 100];
  }

  #elapsed(): string {
    return formatDuration(this.#clock.now() - this.#startedAt);
  }

  #totals(): { copied: number; estimated: number; pairs: Map<string, PairState> } {
    const pairs = new Map<string, PairState>();
    let copied = 0;
    let estimated = 0;
    for (const m of this.#moves.values()) {
      const key = `${m.from} -> ${m.to}`;
      const p = pairs.get(key) ?? { copied: 0, estimated: 0 };
      p.copied += m.copied;
      p.estimated += Math.max(m.estimated, m.copied);
      pairs.set(key, p);
      copied += m.copied;
      estimated += Math.max(m.estimated, m.copied);
    }
    return { copied, estimated, pairs: new Map([...pairs].sort(([a], [b]) => a.localeCompare(b))) };
  }

  /** Copy totals: the journal's (what every run copied) once known, else the sum of the seeded moves. */
  #copyTotals(): { copied: number; estimated: number } {
    if (this.#journalTotals !== null) return this.#journalTotals;
    const { copied, estimated } = this.#totals();
    return { copied, estimated };
  }

  /** This run's copy rate up to now, documents per second. */
  #docsPerSec(): number {
    const r = this.#run;
    if (r === null) return 0;
    const ms = r.elapsedMs + (this.#clock.now() - r.at);
    return ms > 0 ? (r.copied * 1000) / ms : 0;
  }

  #overall(copied: number, estimated: number): string {
    const extra = this.#extra?.() ?? '';
    const rate = this.#docsPerSec();
    // The rest goes no faster than the pace the throttle holds now: a walkthrough's line read "ETA 2.7s"
    // at the 101 docs/s of the copy so far beside "held at 20 docs/s", and the copy took 8 s more.
    const pace = this.#phase === 'copy' && this.#pace !== null ? Math.min(rate, this.#pace.docsPerSec) : rate;
    return (
      `${copied}/${estimated} docs, ${Math.round(rate)} docs/s, ETA ${formatDuration(etaMs(estimated - copied, pace))}, elapsed ${this.#elapsed()}` +
      (this.#phase === 'copy' ? this.#throttleNote(rate) : '') +
      (extra === '' ? '' : `, ${extra}`)
    );
  }

  #tick(force: boolean): void {
    const now = this.#clock.now();
    if (this.#mode === 'plain') {
      if (now - this.#lastPlain >= this.#plainEveryMs) this.#plainLine();
      return;
    }
    if (this.#mode !== 'tty' || (!force && now - this.#lastDraw < this.#redrawMs)) return;
    this.#lastDraw = now;
    this.#clear();
    const lines = this.#step === null ? this.#copyLines() : [this.#stepLine()];
    if (lines.length === 0) return;
    // A line wider than the terminal wraps, and the cursor-up count of the next redraw would be off.
    const max = Math.max(20, (this.#out.columns ?? 80) - 1);
    this.#out.write(`${lines.map((l) => (l.length > max ? `${l.slice(0, max - 1)}…` : l)).join('\n')}\n`);
    this.#drawn = lines.length;
  }

  /** One bar per shard pair and an overall bar with the copy's rate, ETA and elapsed time. */
  #copyLines(): string[] {
    const { pairs } = this.#totals();
    if (pairs.size === 0) return [];
    const { copied, estimated } = this.#copyTotals();
    const width = Math.max(...[...pairs.keys()].map((k) => k.length), 'overall'.length);
    const lines = [...pairs].map(
      ([key, p]) => `  ${key.padEnd(width)} ${progressBar(p.estimated === 0 ? 1 : p.copied / p.estimated, this.#barWidth)} ${pct(p.copied, p.estimated)} ${p.copied}/${p.estimated}`,
    );
    lines.push(
      `  ${'overall'.padEnd(width)} ${progressBar(estimated === 0 ? 1 : copied / estimated, this.#barWidth)} ${pct(copied, estimated)} ${this.#overall(copied, estimated)}`,
    );
    return lines;
  }

  #stepLine(): string {
    const [done, total] = this.#stepShare();
    return `  ${this.#phase.padEnd(7)} ${progressBar(total === 0 ? 1 : done / total, this.#barWidth)} ${pct(done, total)} ${this.#stepFigures()}`;
  }

  #plainLine(): void {
    this.#lastPlain = this.#clock.now();
    let line: string;
    if (this.#step !== null) {
      line = `${this.#phase} ${pct(...this.#stepShare()).trim()}: ${this.#stepFigures()}`;
    } else {
      const { copied, estimated } = this.#copyTotals();
      if (estimated === 0 && copied === 0) return;
      line = `copy ${pct(copied, estimated).trim()}: ${this.#overall(copied, estimated)}`;
    }
    // A phase's end repeats its last line when nothing moved since: say it once, though its rate has
    // drifted with the time passed ("sweep 100%: 51/51 ranges, 2.4 ranges/s", then "2.3 ranges/s").
    const figures = line.replace(/, [0-9.]+ ranges\/s.*$/, '').replace(/, [0-9]+ docs\/s, ETA [^,]*/, '').replace(/, elapsed .*$/, '');
    if (figures === this.#lastPlainFigures) return;
    this.#lastPlainFigures = figures;
    this.#out.write(`${line}\n`);
  }

  #clear(): void {
    if (this.#drawn === 0) return;
    // Up to the first bar line, then clear to the end of the screen.
    this.#out.write(`${ESC}${this.#drawn}A\r${ESC}0J`);
    this.#drawn = 0;
  }
}
