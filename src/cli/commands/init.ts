import type { Command } from 'commander';
import { openDeployment } from '../../deployment/deployment.js';
import type { RoutingState } from '../../router/routing-state.js';
import { ErrorCode, ShardkitConflictError } from '../../errors.js';
import { withBalancedTokens } from '../../ring/placement.js';
import type { CliIO } from '../io.js';
import { usageError } from '../options.js';
import { printJson } from '../output.js';
import { loadTopologyFile } from '../topology-file.js';

/** Adds `init --config FILE [--topology FILE]`. */
export function register(program: Command, io: CliIO): void {
  program
    .command('init')
    .description("Publish the config file's topology as the first stable state and create the routing index on every shard")
    .requiredOption('--config <file>', 'shardkit config file (JSON or YAML)')
    .option('--topology <file>', 'topology file (default: the config file\'s "topology")')
    .option('--no-indexes', 'do not create the {_h: 1, _id: 1} index on the shards')
    .option('--json', 'print the outcome as JSON')
    .action(async (opts: { config: string; topology?: string; indexes: boolean; json?: boolean }) => {
      const deployment = await openDeployment(opts.config);
      try {
        const path = opts.topology ?? deployment.config.topology;
        if (path === undefined) throw usageError('no topology to publish: pass --topology FILE or set "topology" in the config file');
        const { topology: parsed } = await loadTopologyFile(io, path);
        if (parsed.name !== deployment.config.name) {
          throw usageError(`topology ${path} is named "${parsed.name}" but the config file's name is "${deployment.config.name}"`);
        }
        // Balanced tokens are chosen once, here, so every router rebuilds the same ring.
        const topology = withBalancedTokens(parsed);
        const existing = await deployment.configStore.load();
        if (existing !== null) {
          const same = existing.phase === 'stable' && JSON.stringify(existing.topology) === JSON.stringify(topology.toJSON());
          if (!same) {
            throw new ShardkitConflictError(
              ErrorCode.staleEpoch,
              `the config store already holds "${deployment.config.name}" at epoch ${existing.epoch} (${existing.phase}); change it with a migration, not init`,
            );
          }
        }
        const indexed: string[] = [];
        if (opts.indexes) {
          for (const shard of topology.shards) {
            const store = await deployment.openShard(shard);
            await store.ensureRoutingIndex();
            indexed.push(shard.id);
          }
        }
        const state: RoutingState = { phase: 'stable', epoch: topology.epoch, topology: topology.toJSON() };
        if (existing === null) await deployment.configStore.compareAndSet(null, state);
        const outcome = { name: topology.name, epoch: topology.epoch, published: existing === null, indexed };
        if (opts.json === true) {
          printJson(io, outcome);
        } else {
          io.stdout.write(
            existing === null
              ? `published "${topology.name}" at epoch ${topology.epoch} (stable, ${topology.shards.length} shards)\n`
              : `"${topology.name}" is already published at epoch ${topology.epoch}; nothing to do\n`,
          );
          if (indexed.length > 0) io.stdout.write(`routing index {_h: 1, _id: 1} present on ${indexed.join(', ')}\n`);
        }
      } finally {
        await deployment.close();
      }
    });
}
