import { formatPhases, PhaseTimer } from './phases';

describe('phase timings', () => {
  it.each([
    [{}, 'no phases timed'],
    [{ build: 1320, hash: 14, probe: 2 }, 'probe 2 ms · hash 14 ms · build 1.32 s'],
    [{ verify: 41, stage: 85, push: 2500 }, 'stage 85 ms · push 2.50 s · verify 41 ms'],
  ])('%j → %s (always in the order the phases happen)', (timings, line) => {
    expect(formatPhases(timings)).toBe(line);
  });

  it('adds up repeated phases and measures what it wraps', async () => {
    const timer = new PhaseTimer();
    timer.add('push', 10.4);
    timer.add('push', 20.4);
    const value = await timer.time('build', () => new Promise((resolve) => setTimeout(() => resolve('done'), 30)));
    expect(value).toBe('done');
    const timings = timer.timings();
    expect(Object.keys(timings)).toEqual(['build', 'push']);
    expect(timings.push).toBe(31);
    expect(timings.build).toBeGreaterThanOrEqual(25);
  });
});
