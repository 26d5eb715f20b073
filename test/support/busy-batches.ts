import type { MongoClient } from 'mongodb';

/**
 * Make every `find` and `getMore` answer of database `db` through `client` hold this process for `ms`
 * (as a slow shard or a loaded client would), and count them: a read of N batches then takes N × `ms`
 * at least, longer than one call of a store with a shorter `opTimeoutMs` may last. `client` must be
 * created with `monitorCommands: true`.
 */
export function busyOnBatches(client: MongoClient, db: string, ms: number): { count: number } {
  const batches = { count: 0 };
  client.on('commandSucceeded', (e) => {
    if (e.databaseName !== db || (e.commandName !== 'find' && e.commandName !== 'getMore')) return;
    batches.count++;
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // busy
    }
  });
  return batches;
}
