import { ShardkitError } from '../errors.js';

/** The stable code of an error, for counting failures by kind (`error` for anything else). */
export function errorCodeOf(error: unknown): string {
  if (error instanceof ShardkitError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'error';
}
