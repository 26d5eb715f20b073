import type { Command } from 'commander';
import { ErrorCode, ShardkitInputError } from '../../errors.js';
import type { ShardKey } from '../../hash/types.js';
import { Ring } from '../../ring/ring.js';
import type { CliIO } from '../io.js';
import { printJson } from '../output.js';
import { formatTable } from '../table.js';
import { loadTopologyFile } from '../topology-file.js';

/**
 * A command-line key as an integer key: a safe integer stays a number, a larger one becomes a
 * bigint (both hash as their decimal digits), anything else is bad input.
 */
export function integerKey(text: string): number | bigint {
  if (!/^-?\d+$/.test(text)) throw new ShardkitInputError(ErrorCode.keyInvalid, `--int: key ${JSON.stringify(text)} is not an integer`);
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** Adds `route --topology FILE KEY...`. */
export function register(program: Command, io: CliIO): void {
  program
    .command('route')
    .description("Print the shard and ring point of each shard-key value (of the topology's shardKey, _id by default)")
    .requiredOption('--topology <file>', 'topology file')
    .option('--int', 'treat keys as integers (they route like their decimal digits)')
    .option('--json', 'print [{"key", "shard", "point"}] as JSON')
    .argument('<keys...>', 'shard-key values to route (a tenant under shardKey tenant; an _id under the default)')
    .action(async (keys: string[], opts: { topology: string; int?: boolean; json?: boolean }) => {
      const { topology } = await loadTopologyFile(io, opts.topology);
      const ring = Ring.fromTopology(topology);
      const routed = keys.map((text) => {
        const key: ShardKey = opts.int === true ? integerKey(text) : text;
        const point = ring.hash.point(key);
        return { key, shard: ring.ownerOfPoint(point), point };
      });
      if (opts.json === true) {
        // A bigint key has no JSON form; its decimal string is what it hashes as anyway.
        printJson(io, routed.map((r) => ({ key: typeof r.key === 'bigint' ? r.key.toString() : r.key, shard: r.shard, point: r.point })));
        return;
      }
      // The key column names the shard key when it is not `_id`, so a table says what its values are (ADR 0008).
      const column = topology.shardKey === '_id' ? 'key' : topology.shardKey;
      io.stdout.write(formatTable([column, 'shard', 'point'], routed.map((r) => [String(r.key), r.shard, String(r.point)]), ['left', 'left', 'right']));
    });
}
