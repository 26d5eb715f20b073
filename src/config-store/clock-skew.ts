/**
 * The clock-skew allowance of the migration lock (ADR 0007). A lock's expiry is wall time that other
 * hosts compare with their own wall clocks, so a host whose clock runs ahead would see a live lease
 * lapse early and take the lock while its holder still writes. The config store therefore (1) refuses
 * to take or renew the lock from a host whose clock it cannot show to be within `maxClockSkewMs` of
 * the config server's, and (2) publishes an expiry `2 x maxClockSkewMs` past the holder's own lease,
 * which covers two hosts each off by the allowance in opposite directions.
 */
import { ErrorCode, ShardkitConflictError, ShardkitInvalidArgumentError, ShardkitStoreError } from '../errors.js';
import type { Clock } from '../clock.js';

/**
 * Default allowance (ms). NTP- or chrony-disciplined hosts stay within milliseconds of each other, so
 * this is two orders of magnitude of headroom for a healthy fleet while still catching a host whose
 * clock was never synced or was stepped by hand; its cost is a takeover delayed by `2 x 1000` ms after
 * a migrator dies, small next to the lock lease itself.
 */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 1000;

/** One reading of the server's clock, bracketed by the local clocks. */
export interface ClockSample {
  /** Local wall time when the request was sent. */
  readonly sentWall: number;
  /** Round trip on the local monotonic clock (ms), so a wall-clock step during it cannot shrink it. */
  readonly roundTripMs: number;
  /** The server's wall time in its reply. */
  readonly serverWall: number;
}

/** What a sample proves: the server's clock minus ours, give or take `uncertaintyMs`. */
export interface SkewEstimate {
  /** Server wall time minus local wall time at the middle of the round trip (ms). */
  readonly skewMs: number;
  /** Half the round trip: the server read its clock somewhere within it. */
  readonly uncertaintyMs: number;
}

/** The skew a sample shows. */
export function estimateSkew(sample: ClockSample): SkewEstimate {
  const half = Math.max(0, sample.roundTripMs) / 2;
  return { skewMs: sample.serverWall - (sample.sentWall + half), uncertaintyMs: half };
}

/** True when the sample proves the local clock within `maxSkewMs` of the server's. */
export function withinAllowance(estimate: SkewEstimate, maxSkewMs: number): boolean {
  return Math.abs(estimate.skewMs) + estimate.uncertaintyMs <= maxSkewMs;
}

/**
 * The lock expiry to publish for a lease of `leaseMs` asked at local wall time `now`. The holder stops
 * writing `leaseMs` after it asked (on its monotonic clock); another host takes over once its own wall
 * clock passes this expiry. With both hosts within `maxSkewMs` of the server, they are at most
 * `2 x maxSkewMs` apart, so the takeover comes no earlier than the holder's stop.
 */
export function visibleExpiry(now: number, leaseMs: number, maxSkewMs: number): number {
  return now + leaseMs + 2 * maxSkewMs;
}

/** Validate a `maxClockSkewMs` option once, as `shardkit.invalidArgument` naming it. */
export function assertMaxClockSkew(value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ShardkitInvalidArgumentError(`maxClockSkewMs must be a finite number >= 0, got ${String(value)}`);
  }
}

/** How many readings a check takes at most: a loaded server's slow reply proves little, a second may prove it. */
const MAX_SAMPLES = 3;

/**
 * Read the server's clock through `serverWall` (one round trip each) until a reading proves the local
 * clock within `maxSkewMs` of it. A reading that proves it outside refuses with
 * `shardkit.migration.clockSkew` (not retryable: the host's clock needs fixing); {@link MAX_SAMPLES}
 * readings too slow to prove either fail with the retryable `shardkit.store.timeout`. Returns the
 * estimate that passed.
 */
export async function checkClockSkew(clock: Clock, maxSkewMs: number, serverWall: () => Promise<number>): Promise<SkewEstimate> {
  let best: SkewEstimate | null = null;
  for (let i = 0; i < MAX_SAMPLES; i++) {
    const sentMono = clock.now();
    const sentWall = clock.wall();
    const server = await serverWall();
    const estimate = estimateSkew({ sentWall, roundTripMs: clock.now() - sentMono, serverWall: server });
    if (withinAllowance(estimate, maxSkewMs)) return estimate;
    // Far outside the allowance even at the edge of the round trip: another reading cannot help.
    if (Math.abs(estimate.skewMs) - estimate.uncertaintyMs > maxSkewMs) return refuse(estimate, maxSkewMs);
    if (best === null || estimate.uncertaintyMs < best.uncertaintyMs) best = estimate;
  }
  const tightest = best as SkewEstimate;
  throw new ShardkitStoreError(
    ErrorCode.storeTimeout,
    `config store: ${MAX_SAMPLES} readings of the server's clock took too long (round trip >= ${Math.ceil(2 * tightest.uncertaintyMs)} ms) ` +
      `to show this host's clock within the allowed ${maxSkewMs} ms (maxClockSkewMs) of it; the lock was neither taken nor renewed`,
  );
}

function refuse(estimate: SkewEstimate, maxSkewMs: number): never {
  const ahead = estimate.skewMs < 0 ? 'ahead of' : 'behind';
  throw new ShardkitConflictError(
    ErrorCode.clockSkew,
    `this host's clock is ${Math.round(Math.abs(estimate.skewMs))} ms (± ${Math.ceil(estimate.uncertaintyMs)} ms) ${ahead} ` +
      `the config server's, over the allowed ${maxSkewMs} ms (maxClockSkewMs): the migration lock's expiry is wall time ` +
      'that other hosts read, so it was neither taken nor renewed; sync this host\'s clock (NTP) and retry',
  );
}
