import { expect } from 'chai';
import { BSON } from 'mongodb';
import { cloneValue } from '../../../src/config-store/state.js';
import { ErrorCode, ShardkitConflictError } from '../../../src/errors.js';
import {
  JOURNAL_FORMAT,
  Phase,
  emptyCounters,
  freshMove,
  journalFromRecord,
  journalToRecord,
  type MigrationJournal,
} from '../../../src/rebalance/journal.js';

function sampleJournal(): MigrationJournal {
  const from = {
    name: 'app',
    epoch: 1,
    hash: 'xxhash32',
    vnodes: 8,
    placement: 'hashed',
    shards: [
      { id: 's1', weight: 1, uri: 'mongodb://127.0.0.1:27101/app' },
      { id: 's2', weight: 2, db: 'data', draining: true },
    ],
  } as const;
  const to = { ...from, epoch: 2, placement: 'balanced', shards: [{ id: 's1', weight: 1, tokens: [5, 900, 70_000] }] } as const;
  const move = freshMove(-1, 1000, 's2', 's1', 12);
  move.copied = 4;
  move.cursor = { h: 17, id: new BSON.ObjectId('65a000000000000000000001') };
  move.copyDone = true;
  return {
    id: 'mig-1',
    name: 'app',
    owner: 'm1',
    baseEpoch: 1,
    reverse: false,
    from: { ...from, shards: [...from.shards] },
    to: { ...to, shards: [{ ...to.shards[0], tokens: [...to.shards[0].tokens] }] },
    epoch: 2,
    stableEpoch: 3,
    phase: Phase.sweep,
    publishedAt: 1_700_000_000_000,
    committedAt: null,
    settledAt: null,
    moves: [move, freshMove(1000, 4000, 's1', 's2', 3)],
    counters: { ...emptyCounters(), docsRead: 4, docsMoved: 4 },
    startedAt: 1_699_999_999_000,
    finishedAt: null,
    outcome: null,
  };
}

/** The record as a config store hands it back: through its EJSON round trip. */
function stored(journal: MigrationJournal): Record<string, unknown> {
  return cloneValue(journalToRecord(journal));
}

function invalid(record: unknown): ShardkitConflictError {
  try {
    journalFromRecord(record);
  } catch (error) {
    expect(error).to.be.instanceOf(ShardkitConflictError);
    expect((error as ShardkitConflictError).code).to.equal(ErrorCode.journalInvalid);
    return error as ShardkitConflictError;
  }
  throw new Error('expected shardkit.migration.journalInvalid');
}

/**
 * The stored record with `edit` applied to a copy. The edits break the record's shape on purpose,
 * deep inside it, which is what `any` is for here.
 */
function edited(edit: (r: Record<string, any>) => void): Record<string, unknown> {
  const r: Record<string, any> = stored(sampleJournal());
  edit(r);
  return r;
}

describe('journal records', () => {
  describe('journalToRecord', () => {
    it('tags the record with the journal format', () => {
      expect(journalToRecord(sampleJournal())).to.include({ format: JOURNAL_FORMAT });
      expect(JOURNAL_FORMAT).to.equal('shardkit.journal/1');
    });
  });

  describe('journalFromRecord', () => {
    context('when the record was written by journalToRecord', () => {
      it('reads back the same journal, cursor _id types included', () => {
        const journal = sampleJournal();
        const back = journalFromRecord(stored(journal));
        expect(back).to.deep.equal(journal);
        expect(back.moves[0]!.cursor?.id).to.be.instanceOf(BSON.ObjectId);
        expect(back).to.not.have.property('format');
      });

      it('keeps optional shard fields absent when they were absent', () => {
        const back = journalFromRecord(stored(sampleJournal()));
        expect(back.from.shards[0]).to.deep.equal({ id: 's1', weight: 1, uri: 'mongodb://127.0.0.1:27101/app' });
        expect(back.to.shards[0]).to.deep.equal({ id: 's1', weight: 1, tokens: [5, 900, 70_000] });
      });
    });

    context('when the record has no format tag (written by the release before the tag)', () => {
      it('reads it as format 1, so a migration in flight survives the upgrade', () => {
        const journal = sampleJournal();
        const { format, ...old } = stored(journal);
        expect(format).to.equal(JOURNAL_FORMAT);
        expect(journalFromRecord(old)).to.deep.equal(journal);
      });
    });

    context('when the record has an unknown format', () => {
      it('fails with shardkit.migration.journalInvalid naming both formats', () => {
        const error = invalid(edited((r) => (r['format'] = 'shardkit.journal/2')));
        expect(error.message).to.include('shardkit.journal/2').and.to.include(JOURNAL_FORMAT);
      });
    });

    context('when the record is not an object', () => {
      for (const value of [null, 'journal', 42, [1, 2]]) {
        it(`fails on ${JSON.stringify(value)}`, () => {
          expect(invalid(value).message).to.match(/journal must be an object/);
        });
      }
    });

    context('when a field is missing or of the wrong type', () => {
      const cases: Array<[string, (r: Record<string, any>) => void, RegExp]> = [
        ['a missing id', (r) => delete r['id'], /journal\.id must be a non-empty string, got nothing/],
        ['an empty name', (r) => (r['name'] = ''), /journal\.name must be a non-empty string/],
        ['a string epoch', (r) => (r['epoch'] = '2'), /journal\.epoch must be a finite number, got "2"/],
        ['a fractional stable epoch', (r) => (r['stableEpoch'] = 3.5), /journal\.stableEpoch must be an integer/],
        ['an unknown phase', (r) => (r['phase'] = 'teleport'), /journal\.phase must be one of publish, copy, sweep, verify, commit, cleanup, settle, purge, done/],
        ['a non-boolean reverse', (r) => (r['reverse'] = 'no'), /journal\.reverse must be a boolean/],
        ['a missing publishedAt', (r) => delete r['publishedAt'], /journal\.publishedAt must be a finite number, got nothing/],
        ['an unknown outcome', (r) => (r['outcome'] = 'maybe'), /journal\.outcome must be one of completed, aborted/],
        ['moves that are not an array', (r) => (r['moves'] = {}), /journal\.moves must be an array, got an object/],
        ['a move that is not an object', (r) => (r['moves'][1] = 7), /journal\.moves\[1\] must be an object/],
        ['a move without copyDone', (r) => delete r['moves'][0]['copyDone'], /journal\.moves\[0\]\.copyDone must be a boolean/],
        ['a cursor without _h', (r) => delete r['moves'][0]['cursor']['h'], /journal\.moves\[0\]\.cursor\.h must be a finite number/],
        ['a cursor without id', (r) => delete r['moves'][0]['cursor']['id'], /journal\.moves\[0\]\.cursor\.id must be present/],
        ['a missing counter', (r) => delete r['counters']['swept'], /journal\.counters\.swept must be a finite number/],
        ['a topology with an unknown hash', (r) => (r['from']['hash'] = 'md4'), /journal\.from\.hash must be one of xxhash32, ketama/],
        ['a topology without shards', (r) => delete r['to']['shards'], /journal\.to\.shards must be an array/],
        ['a shard with a string weight', (r) => (r['from']['shards'][1]['weight'] = '2'), /journal\.from\.shards\[1\]\.weight must be a finite number/],
        ['a shard with bad tokens', (r) => (r['to']['shards'][0]['tokens'] = [1, 'x']), /journal\.to\.shards\[0\]\.tokens\[1\] must be a finite number/],
      ];
      for (const [what, edit, message] of cases) {
        it(`fails on ${what}, naming the field`, () => {
          expect(invalid(edited(edit)).message).to.match(message);
        });
      }
    });
  });
});
