/**
 * Get-or-create of prom-client metrics in a registry the application may own. prom-client refuses a
 * second registration of a name; shardkit instead hands back the metric already there (two
 * collections on one registry share their series), and refuses only a name taken by another kind.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ShardkitInvalidArgumentError } from '../errors.js';

type Kind = 'Counter' | 'Gauge' | 'Histogram';

function existing<M>(registry: Registry, name: string, kind: Kind): M | undefined {
  const found = registry.getSingleMetric(name);
  if (found === undefined) return undefined;
  // By constructor name, not instanceof: the application's registry may hold metrics of another copy of prom-client.
  if (found.constructor.name !== kind) {
    throw new ShardkitInvalidArgumentError(`metric ${name} is already registered in this registry as a ${found.constructor.name}, not a ${kind}`);
  }
  return found as M;
}

/** The counter `name` of `registry`, created when missing. */
export function counterIn<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return existing<Counter<L>>(registry, name, 'Counter') ?? new Counter({ name, help, labelNames, registers: [registry] });
}

/** The gauge `name` of `registry`, created when missing. */
export function gaugeIn<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  return existing<Gauge<L>>(registry, name, 'Gauge') ?? new Gauge({ name, help, labelNames, registers: [registry] });
}

/** The histogram `name` of `registry`, created when missing. */
export function histogramIn<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: readonly number[],
): Histogram<L> {
  return existing<Histogram<L>>(registry, name, 'Histogram') ?? new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [registry] });
}
