import { expect } from 'chai';
import { ShardedCursor } from '../../../src/collection/cursor.js';

class ArrayCursor<T> extends ShardedCursor<T> {
  opened = 0;
  returned = 0;
  constructor(private readonly docs: T[]) {
    super();
  }
  limitTo(n: number): this {
    this.assertNotStarted('limitTo');
    this.docs.length = n;
    return this;
  }
  protected open(): AsyncIterator<unknown> {
    this.opened += 1;
    const docs = this.docs;
    const self = this;
    return (async function* () {
      try {
        yield* docs;
      } finally {
        self.returned += 1;
      }
    })();
  }
}

describe('ShardedCursor', () => {
  it('yields documents in order through next, hasNext and toArray, opening its source once', async () => {
    const c = new ArrayCursor([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(await c.hasNext()).to.equal(true);
    expect(await c.hasNext()).to.equal(true);
    expect(await c.next()).to.deep.equal({ a: 1 });
    expect(await c.toArray()).to.deep.equal([{ a: 2 }, { a: 3 }]);
    expect(await c.next()).to.equal(null);
    expect(await c.hasNext()).to.equal(false);
    expect(c.closed).to.equal(true);
    expect(c.opened).to.equal(1);
  });

  it('is async iterable and releases its source when the loop breaks early', async () => {
    const c = new ArrayCursor([1, 2, 3, 4]);
    const seen: number[] = [];
    for await (const d of c) {
      seen.push(d);
      if (d === 2) break;
    }
    expect(seen).to.deep.equal([1, 2]);
    expect(c.closed).to.equal(true);
    expect(c.returned).to.equal(1);
    expect(await c.next()).to.equal(null);
  });

  it('maps documents and stops forEach when the callback returns false', async () => {
    const c = new ArrayCursor([1, 2, 3]).map((d) => d * 10).map((d) => `v${String(d)}`);
    expect(await c.toArray()).to.deep.equal(['v10', 'v20', 'v30']);
    const seen: number[] = [];
    const d = new ArrayCursor([1, 2, 3]);
    await d.forEach((x) => {
      seen.push(x);
      return x < 2;
    });
    expect(seen).to.deep.equal([1, 2]);
    expect(d.closed).to.equal(true);
  });

  it('refuses builder methods after the first read, and close is idempotent', async () => {
    const c = new ArrayCursor([1, 2]);
    c.limitTo(1);
    expect(await c.next()).to.equal(1);
    expect(() => c.limitTo(1)).to.throw(/must be called before the cursor is read/);
    expect(() => c.map((x) => x)).to.throw(/map\(\) must be called before/);
    await c.close();
    await c.close();
    expect(await c.toArray()).to.deep.equal([]);
  });
});
