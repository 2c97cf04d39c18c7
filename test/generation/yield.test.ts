// How the generation loop yields to the event loop (src/generation/generate.ts `pickYield`): in a browser-like
// global scope (no setImmediate) it must not be setTimeout, which browsers clamp to 4 ms when nested.
import { MessageChannel as NodeMessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { pickYield } from '../../src/generation/generate.js';

/** A setTimeout that records being called (and still works, so a wrong choice fails the count, not by hanging). */
function countingTimeout() {
  const calls: number[] = [];
  const fn = (callback: () => void, ms: number) => {
    calls.push(ms);
    return setTimeout(callback, ms);
  };
  return { fn, calls };
}

describe('pickYield', () => {
  it('a browser without scheduler.yield: a MessageChannel message, never setTimeout', async () => {
    const timeout = countingTimeout();
    let posted = 0;
    class CountingChannel extends NodeMessageChannel {
      constructor() {
        super();
        const post = this.port2.postMessage.bind(this.port2);
        this.port2.postMessage = (message: unknown) => {
          posted++;
          post(message);
        };
      }
    }
    const yieldNow = pickYield({ MessageChannel: CountingChannel as unknown as typeof MessageChannel, setTimeout: timeout.fn });
    // several loops waiting at once each get resumed, in order
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((i) => yieldNow().then(() => order.push(i))));
    for (let i = 0; i < 20; i++) await yieldNow();
    expect(order).toEqual([1, 2, 3]);
    expect(posted).toBe(23);
    expect(timeout.calls).toEqual([]);
  });

  it('scheduler.yield only where there is no MessageChannel (its continuation would jump ahead of a Stop message), never setTimeout', async () => {
    const timeout = countingTimeout();
    let yields = 0;
    const scheduler = {
      yield(this: unknown) {
        expect(this).toBe(scheduler); // called as a method, as Chromium requires
        yields++;
        return Promise.resolve();
      },
    };
    const withChannel = pickYield({ scheduler, MessageChannel: NodeMessageChannel as unknown as typeof MessageChannel, setTimeout: timeout.fn });
    await withChannel();
    expect(yields).toBe(0);
    const yieldNow = pickYield({ scheduler, setTimeout: timeout.fn });
    await yieldNow();
    await yieldNow();
    expect(yields).toBe(2);
    expect(timeout.calls).toEqual([]);
  });

  it('Node: setImmediate, which lets timers run', async () => {
    const timeout = countingTimeout();
    let immediates = 0;
    const yieldNow = pickYield({
      setImmediate: (cb) => {
        immediates++;
        return setImmediate(cb);
      },
      MessageChannel: NodeMessageChannel as unknown as typeof MessageChannel,
      setTimeout: timeout.fn,
    });
    await yieldNow();
    expect(immediates).toBe(1);
    expect(timeout.calls).toEqual([]);
    expect(pickYield()).toBeTypeOf('function'); // the real global scope of this test runner
  });

  it('setTimeout(0) only when nothing else exists', async () => {
    const timeout = countingTimeout();
    await pickYield({ setTimeout: timeout.fn })();
    expect(timeout.calls).toEqual([0]);
  });
});
