import { ErrorCode, ShardkitInputError } from '../../errors.js';
import type { LabShard, Scheme, SchemeParams } from '../types.js';
import { BoundedLoadsScheme } from './bounded-loads.js';
import { HashRingScheme } from './hashring-scheme.js';
import { JumpScheme } from './jump.js';
import { MaglevScheme } from './maglev.js';
import { MultiProbeScheme } from './multi-probe.js';
import { RendezvousScheme } from './rendezvous.js';
import { RingScheme } from './ring-scheme.js';

/** Every scheme the lab knows, in the order it reports them. */
export const SCHEME_NAMES = ['hashed', 'balanced', 'ketama', 'hashring', 'jump', 'rendezvous', 'maglev', 'bounded-loads', 'multi-probe'] as const;
/** One of {@link SCHEME_NAMES}. */
export type SchemeName = (typeof SCHEME_NAMES)[number];

/** The scheme `name` over `shards`. */
export function createScheme(name: SchemeName, shards: readonly LabShard[], params: SchemeParams): Scheme {
  switch (name) {
    case 'hashed':
    case 'balanced':
    case 'ketama':
      return RingScheme.create(name, shards, params);
    case 'hashring':
      return new HashRingScheme(shards, params);
    case 'jump':
      return new JumpScheme(shards);
    case 'rendezvous':
      return new RendezvousScheme(shards);
    case 'maglev':
      return new MaglevScheme(shards, params.maglevSize);
    case 'bounded-loads':
      return new BoundedLoadsScheme(shards, params);
    case 'multi-probe':
      return new MultiProbeScheme(shards, params);
  }
}

/** Parse `--schemes`: a comma list of {@link SCHEME_NAMES}, or `all`; a usage error names an unknown one. */
export function parseSchemes(text: string): SchemeName[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 1 && names[0] === 'all') return [...SCHEME_NAMES];
  if (names.length === 0) throw new ShardkitInputError(ErrorCode.usage, '--schemes: give at least one scheme');
  for (const n of names) {
    if (!(SCHEME_NAMES as readonly string[]).includes(n)) {
      throw new ShardkitInputError(ErrorCode.usage, `--schemes: unknown scheme ${JSON.stringify(n)} (${SCHEME_NAMES.join(', ')}, all)`);
    }
  }
  return [...new Set(names)] as SchemeName[];
}
