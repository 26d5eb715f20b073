import { ShardkitInputError } from '../errors.js';
import { detectFormat, formatOfPath } from '../topology/parse.js';
import type { TopologyFormat } from '../topology/parse.js';
import { Topology } from '../topology/topology.js';
import type { CliIO } from './io.js';

/** A topology read from a file, with the format it was written in. */
export interface LoadedTopology {
  readonly topology: Topology;
  readonly format: TopologyFormat;
  readonly path: string;
}

/**
 * Read and validate a topology file. The format follows the extension (`.json`, `.yaml`, `.yml`),
 * else the content. Errors keep their code and gain the file name, so the one error line says
 * which of two files (`plan --from --to`) was wrong.
 */
export async function loadTopologyFile(io: CliIO, path: string): Promise<LoadedTopology> {
  const text = await io.readText(path);
  const format = formatOfPath(path) ?? detectFormat(text);
  try {
    return { topology: Topology.parse(text, format), format, path };
  } catch (error) {
    if (error instanceof ShardkitInputError) {
      throw new ShardkitInputError(error.code, `${path}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
