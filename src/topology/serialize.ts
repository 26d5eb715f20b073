import YAML from 'yaml';
import type { TopologyFormat } from './parse.js';
import type { TopologySpec } from './types.js';
import { invalidArgument, requireObject } from '../arguments.js';

/**
 * Topology text in the given format, ending in a newline. Token lists are written on one line in
 * YAML (flow style): a balanced shard holds hundreds of them, and one per line buries the rest of
 * the file.
 */
export function serializeTopology(spec: TopologySpec, format: TopologyFormat): string {
  requireObject(spec, 'serializeTopology(spec, format): spec', 'a Topology or a topology spec');
  if (format !== 'json' && format !== 'yaml') throw invalidArgument('serializeTopology(spec, format): format', "'json' or 'yaml'", format);
  const plain = JSON.parse(JSON.stringify(spec)) as unknown;
  if (format === 'json') return `${JSON.stringify(plain, null, 2)}\n`;
  const doc = new YAML.Document(plain);
  YAML.visit(doc, {
    Pair(_key, pair) {
      if (YAML.isScalar(pair.key) && pair.key.value === 'tokens' && YAML.isSeq(pair.value)) pair.value.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0 });
}
