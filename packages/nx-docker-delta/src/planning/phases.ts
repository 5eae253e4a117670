/** The phases of one image task, in the order they happen. */
export const PHASES = ['probe', 'hash', 'stage', 'deps', 'build', 'assemble', 'load', 'upload', 'push', 'verify'] as const;
export type Phase = (typeof PHASES)[number];

/** Wall time per phase, in milliseconds (a phase that did not happen is absent). */
export type PhaseTimings = Partial<Record<Phase, number>>;

/**
 * Measures where a task's time goes, so `--verbose` and the receipt can say it: the docker
 * probe, hashing the inputs (Dockerfile, base), staging the context, the dependency image (found,
 * pulled or installed — a cold build's install, or the wait for another task installing the same
 * set), the build itself, the push
 * and the checks after it. Registry-side assembly adds `assemble` (app layer, config, manifest)
 * and `upload` (blobs and manifests sent to the registry).
 */
export class PhaseTimer {
  private readonly ms: PhaseTimings = {};

  async time<T>(phase: Phase, body: () => Promise<T> | T): Promise<T> {
    const started = performance.now();
    try {
      return await body();
    } finally {
      this.add(phase, performance.now() - started);
    }
  }

  add(phase: Phase, ms: number): void {
    this.ms[phase] = (this.ms[phase] ?? 0) + ms;
  }

  timings(): PhaseTimings {
    return Object.fromEntries(PHASES.filter((p) => this.ms[p] !== undefined).map((p) => [p, Math.round(this.ms[p] as number)])) as PhaseTimings;
  }
}

/** `probe 2 ms · hash 14 ms · stage 85 ms · build 1.32 s · verify 41 ms` */
export function formatPhases(timings: PhaseTimings): string {
  const parts = PHASES.filter((p) => timings[p] !== undefined).map((p) => {
    const ms = timings[p] as number;
    return `${p} ${ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms} ms`}`;
  });
  return parts.length ? parts.join(' · ') : 'no phases timed';
}
