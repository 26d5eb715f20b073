/**
 * Running an aggregation over the shards of a routing view, by one of two strategies (ADR 0009):
 *
 * - **split** (a stable state, settling included): every targeted shard runs the plan's shard part
 *   behind the store's guard (live documents only, no internal field), the router merges the answers
 *   (`merge.ts`) and runs the remainder with mingo. Live documents are each on exactly one shard
 *   while a state is stable, so this counts every document once; a router that is behind (a newer
 *   migration fenced documents it still reads at their old owner) is caught after the shards answered
 *   by one query for fenced documents, answered "moved" as `scatterFind` answers it, and the
 *   executor runs the whole aggregation again under the refreshed state.
 * - **router-side** (migrating, or a shard that does not implement a pushed stage): the documents of
 *   the leading `$match` come through the migration-aware read path (`scatterFind`, or the single-key
 *   protocol when the match pins the key), which resolves every fenced copy by the ownership rule and
 *   returns each document once, and the router runs the rest of the pipeline with mingo.
 */
import { Aggregator } from 'mingo';
import type { Document, Filter, Sort } from 'mongodb';
import { ErrorCode, ShardkitInputError } from '../../errors.js';
import type { StoredDocument } from '../../stores/shard-store.js';
import { normalizeSort, sortComparator } from '../../stores/bson-order.js';
import { andFilters } from '../../stores/store-filters.js';
import { filterKey, stripMarkers } from '../documents.js';
import type { KeyProtocol } from '../key-protocol.js';
import type { RedirectExecutor } from '../redirect-executor.js';
import type { RoutingView } from '../routing-view.js';
import { scatterFind, targetShards } from '../scatter-gather.js';
import { pinnedPair } from '../targeting.js';
import { mergeStreams, promote } from './merge.js';
import type { SplitPlan, Stage } from './split.js';

/**
 * Server codes for "not implemented here": NotImplemented (FerretDB's answer for a stage or operator
 * it lacks), unrecognized stage, unknown group operator, invalid pipeline operator.
 */
const NOT_IMPLEMENTED: ReadonlySet<number> = new Set([238, 40324, 15952, 168, 31325]);

/** An aggregation to run: the application's pipeline and its split. */
export interface AggregateJob {
  readonly pipeline: readonly Stage[];
  readonly plan: SplitPlan;
}

/** The pipeline's leading `$match`, or undefined. */
export function leadingMatch(pipeline: readonly Stage[]): Filter<Document> | undefined {
  const [first] = pipeline;
  return first !== undefined && Object.keys(first).length === 1 && '$match' in first ? (first['$match'] as Filter<Document>) : undefined;
}

function notImplemented(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    // A reply read with exact types carries its code as an Int32, not a number.
    const code = Number((e as { code?: unknown }).code?.valueOf());
    if (NOT_IMPLEMENTED.has(code)) return true;
  }
  return false;
}

/**
 * Stages run by the router over documents it holds (mingo); an error of theirs is the pipeline's.
 * A `$sort` runs with the stores' comparator (`stores/bson-order.ts`), not mingo's: mingo sorts an
 * array descending by its smallest element, where a server uses its largest (and the shards sort
 * their part of the same pipeline so). JavaScript's sort is stable, as the stages around it expect.
 */
export function runInRouter(stages: readonly Stage[], docs: Document[]): Document[] {
  if (stages.length === 0) return docs;
  try {
    let out = docs;
    let pending: Stage[] = [];
    const flush = (): void => {
      if (pending.length > 0) out = new Aggregator(pending, {}).run(out);
      pending = [];
    };
    for (const stage of stages) {
      if (Object.keys(stage).length === 1 && '$sort' in stage) {
        flush();
        out = [...out].sort(sortComparator(normalizeSort(stage['$sort'] as Sort)));
      } else {
        pending.push(stage);
      }
    }
    flush();
    return out;
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new ShardkitInputError(ErrorCode.aggregateUnsupportedStage, `aggregate: the router could not run the pipeline: ${detail}`, { cause });
  }
}

/** The split strategy: shard parts, the fence check, the merge, the router's remainder. */
async function split(exec: RedirectExecutor, view: RoutingView, job: AggregateJob): Promise<Document[]> {
  const filter = leadingMatch(job.pipeline) ?? {};
  const streams = await Promise.all(targetShards(view, filter).map((id) => exec.callShard(view, id, (s) => s.aggregate(job.plan.shard, { exactTypes: true }))));
  // After the answers, never before: a fence that hid a document from them is here by now (fences
  // stay until cleanup, a lease after the next commit). Its answer is empty; its "moved" is the point.
  await scatterFind(exec, view, { filter: andFilters(filter, { _moved: { $exists: true } }), sort: undefined, skip: 0, limit: 0, projection: { _id: 1 } });
  const { merge, skip, limit, router } = job.plan;
  return runInRouter(router, mergeStreams(streams, merge, skip, limit).map(promote));
}

/** The router-side strategy: the leading `$match` read through the migration protocol, the rest in mingo. */
async function inRouter(exec: RedirectExecutor, keys: KeyProtocol, view: RoutingView, pipeline: readonly Stage[]): Promise<Document[]> {
  const leading = leadingMatch(pipeline);
  const filter = leading ?? {};
  const key = filterKey(filter);
  const value = pinnedPair(view, filter, key);
  let docs: StoredDocument[];
  if (key !== undefined && value !== undefined) {
    const doc = await keys.readMatching(view, key, filter, value);
    docs = doc === null ? [] : [doc];
  } else {
    docs = await scatterFind(exec, view, { filter, sort: undefined, skip: 0, limit: 0, projection: undefined });
  }
  return runInRouter(leading === undefined ? pipeline : pipeline.slice(1), docs.map((d) => stripMarkers<Document>(d)));
}

/** Every result document of `job`, by the strategy the current routing state calls for. */
export function runAggregate(exec: RedirectExecutor, keys: KeyProtocol, job: AggregateJob): Promise<Document[]> {
  return exec.run(async (view) => {
    if (view.from !== undefined) return inRouter(exec, keys, view, job.pipeline);
    try {
      return await split(exec, view, job);
    } catch (error) {
      if (!notImplemented(error)) throw error;
      return inRouter(exec, keys, view, job.pipeline);
    }
  });
}
