import { expect } from 'chai';
import { ErrorCode, ShardkitInputError } from '../../../src/errors.js';
import { detectFormat, formatOfPath, lineColumn, parseTopologyText } from '../../../src/topology/parse.js';

function parseError(text: string, format?: 'json' | 'yaml'): ShardkitInputError {
  try {
    parseTopologyText(text, format);
  } catch (error) {
    expect(error).to.be.instanceOf(ShardkitInputError);
    return error as ShardkitInputError;
  }
  throw new Error('expected a parse error');
}

describe('parse', () => {
  describe('#detectFormat', () => {
    it('takes text opening with { as JSON and anything else as YAML', () => {
      expect(detectFormat('  \n{"a":1}')).to.equal('json');
      expect(detectFormat('name: x')).to.equal('yaml');
      expect(detectFormat('- a')).to.equal('yaml');
    });
  });

  describe('#formatOfPath', () => {
    it('maps extensions case-insensitively and leaves others undefined', () => {
      expect(formatOfPath('a/b.JSON')).to.equal('json');
      expect(formatOfPath('t.yaml')).to.equal('yaml');
      expect(formatOfPath('t.yml')).to.equal('yaml');
      expect(formatOfPath('-')).to.equal(undefined);
      expect(formatOfPath('topology.txt')).to.equal(undefined);
    });
  });

  describe('#lineColumn', () => {
    it('counts 1-based lines and columns', () => {
      expect(lineColumn('ab\ncd\nef', 0)).to.deep.equal({ line: 1, column: 1 });
      expect(lineColumn('ab\ncd\nef', 4)).to.deep.equal({ line: 2, column: 2 });
      expect(lineColumn('ab\ncd\nef', 99)).to.deep.equal({ line: 3, column: 3 });
    });
  });

  describe('#parseTopologyText', () => {
    it('parses JSON and YAML into the same value', () => {
      expect(parseTopologyText('{"a": [1, "x"]}')).to.deep.equal(parseTopologyText('a:\n  - 1\n  - x\n'));
    });

    context('when the input is empty', () => {
      it('throws shardkit.topology.parse', () => {
        expect(parseError('  \n').code).to.equal(ErrorCode.topologyParse);
      });
    });

    context('when the JSON is bad', () => {
      it('reports line and column on one line', () => {
        const error = parseError('{\n  "shards": [\n    {"id": "x",}\n  ]\n}');
        expect(error.code).to.equal(ErrorCode.topologyParse);
        expect(error.message).to.match(/^bad JSON at line 3, column 16: /);
        expect(error.message).to.not.include('\n');
      });

      it('never quotes the input, which may hold a password', () => {
        const error = parseError('{"shards": [{"uri": "mongodb://u:hunter2@h/app"}, }', 'json');
        expect(error.message).to.not.include('hunter2');
      });
    });

    context('when the YAML is bad', () => {
      it('reports line and column on one line', () => {
        const error = parseError('name: x\nshards: [1,\n b');
        expect(error.code).to.equal(ErrorCode.topologyParse);
        expect(error.message).to.match(/^bad YAML at line \d+, column \d+: /);
        expect(error.message).to.not.include('\n');
      });

      it('rejects duplicate keys', () => {
        const error = parseError('name: a\nname: b\n');
        expect(error.message).to.match(/^bad YAML at line 2, column 1: Map keys must be unique/);
      });

      it('rejects alias bombs', () => {
        const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
        for (let i = 1; i < 8; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
        expect(parseError(lines.join('\n')).code).to.equal(ErrorCode.topologyParse);
      });
    });
  });
});
