import { expect } from 'chai';
import type { LockInfo } from '../../../src/config-store/types.js';
import { Phase, emptyCounters, freshMove, type MigrationJournal } from '../../../src/rebalance/journal.js';
import { RemedyState, remedyFor, type RemedyInput } from '../../../src/rebalance/remedy.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import { baseTopology } from './migrate-harness.js';

const from = baseTopology().toJSON();
const to = baseTopology(['s1', 's2', 's3', 's4']).toJSON();

/** A journal of a forward leg from epoch 1 (fence epoch 2, stable 3, settled 4), in `phase`. */
function journal(phase: Phase, extra: Partial<MigrationJournal> = {}): MigrationJournal {
  return {
    id: 'mig1',
    name: 'app',
    owner: 'm1',
    baseEpoch: 1,
    reverse: false,
    from,
    to,
    epoch: 2,
    stableEpoch: 3,
    phase,
    publishedAt: null,
    committedAt: null,
    settledAt: null,
    moves: [freshMove(-1, 100, 's1', 's4', 10)],
    counters: emptyCounters(),
    startedAt: 0,
    finishedAt: null,
    outcome: null,
    ...extra,
  };
}

function stable(epoch: number): RoutingState {
  return { phase: 'stable', epoch, topology: { ...to, epoch } };
}

function migrating(epoch: number): RoutingState {
  return { phase: 'migrating', epoch, from, topology: { ...to, epoch }, migrationId: 'mig1' };
}

const lock: LockInfo = { owner: 'cli@h:7', acquiredAt: 0, expiresAt: 12_000, generation: 3 };

function input(partial: Partial<RemedyInput>): RemedyInput {
  return { live: stable(1), journal: null, lock: null, control: null, now: 1000, ...partial };
}

describe('remedyFor', () => {
  const cases: Array<{ when: string; input: RemedyInput; state: RemedyState; command: string | null; why: RegExp }> = [
    { when: 'nothing is published', input: input({ live: null }), state: 'uninitialized', command: 'shardkit init --config c.yaml', why: /no routing state/ },
    {
      when: 'no migration is recorded',
      input: input({}),
      state: 'idle',
      command: 'shardkit rebalance --config c.yaml --to <topology file>',
      why: /no migration is recorded/,
    },
    {
      when: 'the last migration finished',
      input: input({ live: stable(4), journal: journal(Phase.done, { outcome: 'completed' }) }),
      state: 'idle',
      command: 'shardkit rebalance --config c.yaml --to <topology file>',
      why: /mig1 finished \(completed\)/,
    },
    {
      when: 'a live migrator holds the lock',
      input: input({ live: migrating(2), journal: journal(Phase.copy), lock }),
      state: 'running',
      command: 'shardkit rebalance status --config c.yaml',
      why: /cli@h:7 runs migration mig1 \(phase copy\).*lapses in 11 s/,
    },
    {
      when: 'a live migrator was asked to abort',
      input: input({ live: migrating(2), journal: journal(Phase.sweep), lock, control: { abort: true, by: 'ops@h:9' } }),
      state: 'abortRequested',
      command: 'shardkit rebalance status --config c.yaml',
      why: /ops@h:9 asked it to abort/,
    },
    {
      when: 'nobody runs an uncommitted forward leg',
      input: input({ live: migrating(2), journal: journal(Phase.copy) }),
      state: 'stopped',
      command: 'shardkit rebalance resume --config c.yaml',
      why: /resume continues it.*shardkit rebalance abort --config c\.yaml/,
    },
    {
      when: 'nobody runs a journal whose publish may not have landed',
      input: input({ live: stable(1), journal: journal(Phase.publish) }),
      state: 'stopped',
      command: 'shardkit rebalance resume --config c.yaml',
      why: /phase publish/,
    },
    {
      when: 'nobody runs a committed forward leg',
      input: input({ live: stable(3), journal: journal(Phase.cleanup) }),
      state: 'stoppedCommitted',
      command: 'shardkit rebalance resume --config c.yaml',
      why: /abort is refused past the commit/,
    },
    {
      when: 'nobody runs an abort leg',
      input: input({ live: migrating(3), journal: journal(Phase.copy, { reverse: true, epoch: 3, stableEpoch: 4, from: to, to: from }) }),
      state: 'stoppedAborting',
      command: 'shardkit rebalance resume --config c.yaml',
      why: /carries the rest back/,
    },
    {
      when: 'an abort was asked and its migrator stopped before switching',
      input: input({ live: migrating(2), journal: journal(Phase.verify), control: { abort: true, by: 'ops@h:9' } }),
      state: 'stoppedAborting',
      command: 'shardkit rebalance resume --config c.yaml',
      why: /ops@h:9 asked to abort/,
    },
    {
      when: 'the live state moved past the journal (a stale migrator before lock generations)',
      input: input({ live: stable(7), journal: journal(Phase.copy) }),
      state: 'diverged',
      command: null,
      why: /between 1 and 4, but it is 7/,
    },
    {
      when: 'the live state is migrating with no journal',
      input: input({ live: migrating(2) }),
      state: 'diverged',
      command: null,
      why: /no unfinished journal records it/,
    },
  ];

  for (const c of cases) {
    context(`when ${c.when}`, () => {
      it(`is ${c.state}, with ${c.command ?? 'no command'}`, () => {
        const r = remedyFor(c.input, 'c.yaml');
        expect(r.state).to.equal(c.state);
        expect(r.command).to.equal(c.command);
        expect(r.why).to.match(c.why);
      });
    });
  }

  it('names every state it can return in RemedyState, and each case above covers one', () => {
    expect(new Set(cases.map((c) => c.state))).to.deep.equal(new Set(Object.values(RemedyState)));
  });

  it('uses a placeholder when no config path is given', () => {
    expect(remedyFor(input({ live: migrating(2), journal: journal(Phase.copy) })).command).to.equal('shardkit rebalance resume --config <file>');
  });
});
