import YAML from 'yaml';
import { ErrorCode, ShardkitInputError } from '../errors.js';
import { redactText } from '../redact.js';

/** The text formats a topology file may be written in. */
export type TopologyFormat = 'json' | 'yaml';

/** `json` when the text opens with `{` (after whitespace), else `yaml`. */
export function detectFormat(text: string): TopologyFormat {
  return text.trimStart().startsWith('{') ? 'json' : 'yaml';
}

/**
 * The format a file name implies (`.json` -> json, `.yaml`/`.yml` -> yaml), or undefined for any
 * other name, so the caller can fall back to the content or another file's format.
 */
export function formatOfPath(path: string): TopologyFormat | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  return undefined;
}

/** 1-based line and column of a 0-based character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * Parse topology text into a plain value (not yet validated). Throws `shardkit.topology.parse`
 * with a one-line message that carries the line and column when the parser reports one.
 */
export function parseTopologyText(text: string, format: TopologyFormat = detectFormat(text)): unknown {
  if (text.trim() === '') throw new ShardkitInputError(ErrorCode.topologyParse, `bad ${format.toUpperCase()}: the input is empty`);
  return format === 'json' ? parseJson(text) : parseYaml(text);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // V8 quotes a slice of the input, which may cut a URI before its `@`: drop the quote entirely,
    // in each of V8's forms (`"…"`, `…"…"`, `"…"…`, `…"…"…`, where `…` is three dots).
    const raw = error instanceof Error ? error.message : String(error);
    const message = firstLine(raw.replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, ''));
    throw new ShardkitInputError(ErrorCode.topologyParse, `bad JSON${jsonLocation(text, message)}: ${message}`, {
      cause: error,
    });
  }
}

/**
 * V8 only sometimes names the offset of a JSON syntax error. When it does not, the YAML parser (a
 * JSON superset) usually stops at the same character and reports a line and column; when it accepts
 * the text (a trailing comma is valid YAML), there is no location to give.
 */
function jsonLocation(text: string, message: string): string {
  const position = /position (\d+)/.exec(message);
  if (position?.[1] !== undefined) {
    const { line, column } = lineColumn(text, Number(position[1]));
    return ` at line ${line}, column ${column}`;
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  const pos = doc.errors[0]?.linePos?.[0];
  return pos === undefined ? '' : ` at line ${pos.line}, column ${pos.col}`;
}

function parseYaml(text: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const error = doc.errors[0];
  if (error !== undefined) {
    const pos = error.linePos?.[0];
    const where = pos === undefined ? '' : ` at line ${pos.line}, column ${pos.col}`;
    const message = firstLine(error.message).replace(/ at line \d+, column \d+:?$/, '');
    throw new ShardkitInputError(ErrorCode.topologyParse, `bad YAML${where}: ${message}`, { cause: error });
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (error) {
    const message = firstLine(error instanceof Error ? error.message : String(error));
    throw new ShardkitInputError(ErrorCode.topologyParse, `bad YAML: ${message}`, { cause: error });
  }
}

/** First line of a parser message, with URI passwords masked: V8 quotes the input around the error. */
function firstLine(message: string): string {
  const line = message.split('\n', 1)[0] ?? '';
  return redactText(line.trim());
}
