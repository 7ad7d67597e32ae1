import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/domain/coalesce.ts';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('Coalescer', () => {
  it('when 50 callers run the same key at once, then the call runs once and all get its value', async () => {
    const coalescer = new Coalescer<{ n: number }>();
    const gate = deferred<{ n: number }>();
    let calls = 0;
    const call = () => {
      calls += 1;
      return gate.promise;
    };
    const runs = Array.from({ length: 50 }, () => coalescer.run('WHP>*', call));
    expect(calls).toBe(1);
    expect(coalescer.inFlight).toBe(1);
    const value = { n: 42 };
    gate.resolve(value);
    const results = await Promise.all(runs.map((r) => r.promise));
    expect(calls).toBe(1);
    for (const result of results) expect(result).toBe(value);
    expect(runs.filter((r) => r.joined)).toHaveLength(49);
    expect(runs[0]?.joined).toBe(false);
    expect(coalescer.inFlight).toBe(0);
  });

  it('when the shared call fails, then every waiter gets that failure and the key is free again', async () => {
    const coalescer = new Coalescer<string>();
    const gate = deferred<string>();
    let calls = 0;
    const runs = Array.from({ length: 5 }, () =>
      coalescer.run('WHP>*', () => {
        calls += 1;
        return gate.promise;
      }),
    );
    const failure = new Error('upstream down');
    gate.reject(failure);
    const settled = await Promise.allSettled(runs.map((r) => r.promise));
    expect(calls).toBe(1);
    for (const s of settled) expect(s).toEqual({ status: 'rejected', reason: failure });
    expect(coalescer.inFlight).toBe(0);

    const next = coalescer.run('WHP>*', async () => {
      calls += 1;
      return 'fresh';
    });
    expect(next.joined).toBe(false);
    await expect(next.promise).resolves.toBe('fresh');
    expect(calls).toBe(2);
  });

  it('when the shared call has succeeded, then the next run calls again', async () => {
    const coalescer = new Coalescer<number>();
    let calls = 0;
    const call = async () => {
      calls += 1;
      return calls;
    };
    await expect(coalescer.run('k', call).promise).resolves.toBe(1);
    const second = coalescer.run('k', call);
    expect(second.joined).toBe(false);
    await expect(second.promise).resolves.toBe(2);
  });

  it('when different keys run at once, then each runs its own call', async () => {
    const coalescer = new Coalescer<string>();
    const gateA = deferred<string>();
    const gateB = deferred<string>();
    const keysCalled: string[] = [];
    const a = coalescer.run('A', () => {
      keysCalled.push('A');
      return gateA.promise;
    });
    const b = coalescer.run('B', () => {
      keysCalled.push('B');
      return gateB.promise;
    });
    expect(a.joined).toBe(false);
    expect(b.joined).toBe(false);
    expect(keysCalled).toEqual(['A', 'B']);
    expect(coalescer.inFlight).toBe(2);
    // B finishes first and does not wait for A, nor does A's failure touch B.
    gateB.resolve('b');
    await expect(b.promise).resolves.toBe('b');
    expect(coalescer.inFlight).toBe(1);
    gateA.reject(new Error('a failed'));
    await expect(a.promise).rejects.toThrow('a failed');
    expect(coalescer.inFlight).toBe(0);
  });
});
