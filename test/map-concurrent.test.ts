import { describe, expect, it } from 'vitest';
import { mapConcurrent } from '../src/map-concurrent.js';

describe('mapConcurrent', () => {
  it('keeps input order and never runs more than the limit at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const progress: number[] = [];
    const out = await mapConcurrent(
      [50, 10, 30, 0, 20, 5],
      2,
      async (ms, i) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, ms));
        inFlight--;
        return `${i}:${ms}`;
      },
      (done, total) => progress.push(done * 10 + total),
    );
    expect(out).toEqual(['0:50', '1:10', '2:30', '3:0', '4:20', '5:5']);
    expect(peak).toBe(2);
    expect(progress).toEqual([16, 26, 36, 46, 56, 66]);
  });

  it('runs at least one worker for a limit below one and none for no items', async () => {
    expect(await mapConcurrent([1, 2, 3], 0, async (x) => x * 2)).toEqual([2, 4, 6]);
    let called = false;
    expect(
      await mapConcurrent([], 4, async () => {
        called = true;
      }),
    ).toEqual([]);
    expect(called).toBe(false);
  });

  it('rejects when a call throws', async () => {
    await expect(
      mapConcurrent([1, 2], 2, async (x) => {
        if (x === 2) throw new Error('boom');
        return x;
      }),
    ).rejects.toThrow('boom');
  });
});
