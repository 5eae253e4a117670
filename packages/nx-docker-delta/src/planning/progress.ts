/**
 * Reads BuildKit's `--progress=plain` output (classic `DOCKER_BUILDKIT=1 docker build` and
 * `docker buildx build` print the same format) into step counts a user can check:
 * which Dockerfile steps ran and which were CACHED.
 */
export interface StepStats {
  /** Dockerfile steps (RUN/COPY/ADD/WORKDIR…, not FROM, not [internal]) seen in the build. */
  total: number;
  cached: number;
  run: number;
  /** Step names in order, with whether each was cached: `[deps 2/4] RUN npm ci`. */
  steps: Array<{ name: string; cached: boolean }>;
  /** Lines of the step that failed, if one did. */
  failedStep?: { name: string; log: string[] };
}

const VERTEX = /^#(\d+) (.*)$/;
/** podman build (buildah): `STEP 3/5: COPY a.txt ./`, then `--> Using cache <id>` when cached. */
const PODMAN_STEP = /^STEP (\d+\/\d+): (.*)$/;
const PODMAN_CACHED = /^--> Using cache /;
const PODMAN_ERROR = /^Error: (?:error )?building at STEP "/i;
/**
 * `[deps 2/4] RUN …`. BuildKit pads the step number to the width of the stage's step count
 * (`[deps  4/10]`, `[ 4/10]` in an unnamed stage) and may prefix the platform
 * (`[linux/amd64 deps 2/4]`).
 */
const STEP_NAME = /^\[(?:[^\]]*\s)?\s*\d+\/\d+\] (.*)$/;

export class ProgressParser {
  private readonly names = new Map<string, string>();
  private readonly cached = new Set<string>();
  private readonly logs = new Map<string, string[]>();
  private readonly order: string[] = [];
  private errorVertex?: string;

  private podmanStep?: string;

  push(line: string): void {
    if (this.pushPodman(line.trimEnd())) return;
    const match = VERTEX.exec(line.trimEnd());
    if (!match) return;
    const [, id, rest] = match;
    if (!this.names.has(id)) {
      this.names.set(id, rest);
      this.order.push(id);
      return;
    }
    if (rest === 'CACHED') this.cached.add(id);
    else if (rest.startsWith('ERROR')) this.errorVertex ??= id;
    else if (/^\d+\.\d+ /.test(rest)) {
      const log = this.logs.get(id) ?? [];
      log.push(rest.replace(/^\d+\.\d+ /, ''));
      if (log.length > 200) log.shift();
      this.logs.set(id, log);
    }
  }

  /** podman's output, with steps named like BuildKit's (`[3/5] COPY a.txt ./`). True when the line was podman's. */
  private pushPodman(line: string): boolean {
    const step = PODMAN_STEP.exec(line);
    if (step) {
      const id = `podman-${this.order.length}`;
      this.names.set(id, `[${step[1]}] ${step[2]}`);
      this.order.push(id);
      this.podmanStep = id;
      return true;
    }
    const id = this.podmanStep;
    if (!id) return false;
    if (PODMAN_CACHED.test(line)) this.cached.add(id);
    else if (PODMAN_ERROR.test(line)) this.errorVertex ??= id;
    else if (!/^--> /.test(line) && !/^COMMIT /.test(line)) {
      const log = this.logs.get(id) ?? [];
      log.push(line);
      if (log.length > 200) log.shift();
      this.logs.set(id, log);
    }
    return true;
  }

  stats(): StepStats {
    const steps: StepStats['steps'] = [];
    for (const id of this.order) {
      const name = this.names.get(id) as string;
      const step = STEP_NAME.exec(name);
      if (!step || /^FROM /i.test(step[1])) continue;
      steps.push({ name, cached: this.cached.has(id) });
    }
    const cached = steps.filter((s) => s.cached).length;
    const failedStep = this.errorVertex
      ? { name: this.names.get(this.errorVertex) as string, log: this.logs.get(this.errorVertex) ?? [] }
      : undefined;
    return { total: steps.length, cached, run: steps.length - cached, steps, failedStep };
  }
}

export function parseProgress(output: string): StepStats {
  const parser = new ProgressParser();
  for (const line of output.split(/\r?\n/)) parser.push(line);
  return parser.stats();
}

/**
 * What a docker client prints when the daemon goes away during a build (restarted, crashed,
 * killed). Only the client's own lines count, not a step's log (those start with `#<n> `).
 */
const DAEMON_LOST = [
  /^cannot write .*iid.* because server did not provide an image ID/i,
  /Cannot connect to the Docker daemon/i,
  /^unexpected EOF$/,
  /^failed to dial gRPC: /i,
  /^error reading from server: EOF$/i,
];

/** True when a failed build's output says the daemon went away mid-build rather than a step failing. */
export function daemonLostDuringBuild(lines: string[]): boolean {
  return lines.some((raw) => {
    const line = raw.trim().replace(/^ERROR: /, '');
    return !/^#\d+ /.test(line) && DAEMON_LOST.some((pattern) => pattern.test(line));
  });
}
