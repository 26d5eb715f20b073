import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ErrorCode, ShardkitInputError } from '../../errors.js';
import type { Command } from 'commander';
import { planRebalance } from '../../rebalance/plan.js';
import { applyChange } from '../../ring/placement.js';
import { Ring } from '../../ring/ring.js';
import { formatOfPath } from '../../topology/parse.js';
import { serializeTopology } from '../../topology/serialize.js';
import type { Topology } from '../../topology/topology.js';
import type { ShardSpec, TopologyChange } from '../../topology/types.js';
import type { CliIO } from '../io.js';
import { commandGroup, usageError } from '../options.js';
import { printJson } from '../output.js';
import { shareReport } from '../shares.js';
import { bar, formatTable, percent } from '../table.js';
import { loadTopologyFile } from '../topology-file.js';
import { summarizePlan } from '../plan-report.js';

/** Adds `topology validate|show|add-shard|remove-shard|set-weight|drain`. */
export function register(program: Command, io: CliIO): void {
  const topology = commandGroup(program, 'topology', 'Validate, inspect and change topology files');

  topology
    .command('validate')
    .description('Check a topology file (JSON or YAML); exit 2 with the reason when it is invalid')
    .argument('<file>', 'topology file')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { topology: t, format } = await loadTopologyFile(io, file);
      // Building the ring proves the topology is usable, not just well formed.
      Ring.fromTopology(t);
      const active = t.activeShards().length;
      if (opts.json === true) {
        printJson(io, { valid: true, file, format, name: t.name, epoch: t.epoch, shards: t.shards.length, activeShards: active });
      } else {
        io.stdout.write(`ok: ${file}: topology ${t.name} epoch ${t.epoch}, ${t.shards.length} shards (${active} active), ` +
          `hash ${t.hash}, placement ${t.placement}, vnodes ${t.vnodes}\n`);
      }
    });

  topology
    .command('show')
    .description('Print the shards and the exact share of the hash space each one owns')
    .argument('<file>', 'topology file')
    .option('--json', 'print JSON instead of a table')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { topology: t } = await loadTopologyFile(io, file);
      show(io, t, opts.json === true);
    });

  const outHelp = 'where to write the new topology (format follows its extension, else the input\'s); - for stdout';
  const changeCommand = (name: string, description: string): Command =>
    topology
      .command(name)
      .description(description)
      .argument('<file>', 'topology file')
      .requiredOption('--id <id>', 'shard id')
      .requiredOption('--out <file>', outHelp)
      .option('--force', 'let --out replace the input file')
      .option('--json', 'print the plan summary as JSON');

  changeCommand('add-shard', 'Add a shard (epoch + 1); balanced placement chooses its tokens here')
    .option('--weight <w>', 'relative capacity', '1')
    .option('--uri <uri>', 'MongoDB connection string of the shard')
    .option('--db <db>', 'database name on the shard')
    .action(async (file: string, opts: ChangeOptions & { weight: string; uri?: string; db?: string }) => {
      const shard: { -readonly [K in keyof ShardSpec]: ShardSpec[K] } = { id: opts.id, weight: Number(opts.weight) };
      if (opts.uri !== undefined) shard.uri = opts.uri;
      if (opts.db !== undefined) shard.db = opts.db;
      await change(io, file, opts, { kind: 'add', shard });
    });

  changeCommand('remove-shard', 'Remove a shard (epoch + 1); its keys move to the others')
    .action(async (file: string, opts: ChangeOptions) => change(io, file, opts, { kind: 'remove', id: opts.id }));

  changeCommand('set-weight', 'Change a shard\'s weight (epoch + 1)')
    .requiredOption('--weight <w>', 'new relative capacity')
    .action(async (file: string, opts: ChangeOptions & { weight: string }) =>
      change(io, file, opts, { kind: 'reweight', id: opts.id, weight: Number(opts.weight) }),
    );

  changeCommand('drain', 'Mark a shard draining (epoch + 1): it keeps its uri but owns no keys')
    .action(async (file: string, opts: ChangeOptions) => change(io, file, opts, { kind: 'drain', id: opts.id }));
}

interface ChangeOptions {
  id: string;
  out: string;
  force?: boolean;
  json?: boolean;
}

/**
 * Refuse to write the new topology over the one it came from unless `--force`: the input is the
 * deployment's record of its current layout, and a typo in `--out` should not lose it.
 */
async function refuseOverwritingInput(file: string, out: string, force: boolean): Promise<void> {
  if (force || out === '-') return;
  const canonical = async (p: string): Promise<string> => realpath(p).catch(() => resolve(p));
  if ((await canonical(file)) !== (await canonical(out))) return;
  throw new ShardkitInputError(ErrorCode.fileWouldOverwrite, `--out ${out} is the input file: write the new topology elsewhere, or pass --force to replace it`);
}

function show(io: CliIO, t: Topology, json: boolean): void {
  const report = shareReport(t, Ring.fromTopology(t));
  const redacted = t.redacted();
  if (json) {
    printJson(io, {
      name: t.name,
      epoch: t.epoch,
      hash: t.hash,
      placement: t.placement,
      vnodes: t.vnodes,
      shards: redacted.shards.map((s) => ({ id: s.id, weight: s.weight, uri: s.uri ?? null, points: report.points.get(s.id) ?? 0 })),
      shares: Object.fromEntries(report.shares),
      peakToMean: report.peakToMean,
    });
    return;
  }
  const totalWeight = t.activeShards().reduce((sum, s) => sum + s.weight, 0);
  const maxShare = Math.max(...report.shares.values());
  const tty = io.stdout.isTTY === true;
  const rows = redacted.shards.map((s) => {
    const share = report.shares.get(s.id) ?? 0;
    const ideal = s.draining === true ? 0 : s.weight / totalWeight;
    const cells = [s.id + (s.draining === true ? ' (draining)' : ''), String(s.weight), String(report.points.get(s.id) ?? 0), percent(share), percent(ideal)];
    if (tty) cells.push(bar(maxShare > 0 ? share / maxShare : 0, 30));
    cells.push(s.uri ?? '');
    return cells;
  });
  const headers = ['shard', 'weight', 'points', 'share', 'ideal', ...(tty ? ['load'] : []), 'uri'];
  io.stdout.write(
    `topology ${t.name}  epoch ${t.epoch}  hash ${t.hash}  placement ${t.placement}  vnodes ${t.vnodes}\n\n` +
      formatTable(headers, rows, ['left', 'right', 'right', 'right', 'right']) +
      `\npeak/mean ${report.peakToMean.toFixed(3)}\n`,
  );
}

function describeChange(c: TopologyChange): string {
  switch (c.kind) {
    case 'add':
      return `add ${c.shard.id} (weight ${c.shard.weight})`;
    case 'remove':
      return `remove ${c.id}`;
    case 'reweight':
      return `set weight of ${c.id} to ${c.weight}`;
    case 'drain':
      return `drain ${c.id}`;
  }
}

async function change(io: CliIO, file: string, opts: ChangeOptions, c: TopologyChange): Promise<void> {
  const toStdout = opts.out === '-';
  if (toStdout && opts.json === true) throw usageError('--json cannot be combined with --out - (both would go to stdout)');
  await refuseOverwritingInput(file, opts.out, opts.force === true);
  const loaded = await loadTopologyFile(io, file);
  const next = applyChange(loaded.topology, c);
  const format = (toStdout ? undefined : formatOfPath(opts.out)) ?? loaded.format;
  // The written file is the topology itself, so it keeps real URIs; only printouts are redacted.
  const text = serializeTopology(next.toJSON(), format);
  const summary = summarizePlan(planRebalance(loaded.topology, next));
  if (toStdout) {
    io.stdout.write(text);
  } else {
    await io.writeText(opts.out, text);
  }
  if (opts.json === true) {
    printJson(io, { out: opts.out, change: describeChange(c), ...summary });
    return;
  }
  const line =
    `${toStdout ? 'wrote topology to stdout' : `wrote ${opts.out}`}: ${describeChange(c)}, epoch ${loaded.topology.epoch} -> ${next.epoch}; ` +
    `moves ${percent(summary.movedFraction)} of the hash space (minimum ${percent(summary.minimalFraction)})\n`;
  // With the topology on stdout, the human summary goes to stderr so a pipe gets only the file.
  (toStdout ? io.stderr : io.stdout).write(line);
}
