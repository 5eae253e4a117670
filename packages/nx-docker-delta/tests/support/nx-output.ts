/**
 * Reads what a user sees in `nx … --output-style=stream`: which tasks ran, which were cache
 * hits, what each project printed, and BuildKit's `--progress=plain` steps (run or CACHED).
 * Deliberately independent of the plugin's own progress parser: it is the test's oracle.
 */

export interface TaskLine {
  /** `project:target` */
  id: string;
  /** How Nx got the result without running it, if it did. */
  cache?: 'local' | 'remote' | 'outputs-match';
}

const TASK = /^> nx run (\S+?:\S+)(?:\s+\[(.+)\])?\s*$/;

export function tasks(output: string): TaskLine[] {
  const seen: TaskLine[] = [];
  for (const line of output.split('\n')) {
    const match = TASK.exec(line.trim());
    if (!match) continue;
    const note = match[2] ?? '';
    const cache = /local cache/.test(note) ? 'local' : /remote cache/.test(note) ? 'remote' : /existing outputs match/.test(note) ? 'outputs-match' : undefined;
    seen.push({ id: match[1], cache });
  }
  return seen;
}

/** Tasks Nx really ran (not restored from a cache). */
export function ranTasks(output: string): string[] {
  return tasks(output).filter((t) => !t.cache).map((t) => t.id).sort();
}

/** Tasks Nx restored from its cache instead of running them. */
export function cacheHits(output: string): string[] {
  return tasks(output).filter((t) => t.cache).map((t) => t.id).sort();
}

/** Lines a running task of `project` printed (stream style prefixes them with `project: `). */
export function projectLines(output: string, project: string): string[] {
  const prefix = `${project}: `;
  return output.split('\n').filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

export interface DockerStep {
  /** As BuildKit names it: `[4/6] RUN cat deps.txt > deps.out` (stage prefix kept). */
  name: string;
  cached: boolean;
}

/**
 * Dockerfile steps of every build in `lines` (FROM and `[internal]` vertices excluded), in
 * Dockerfile order. BuildKit prints vertices in no fixed order and numbers
 * each build from #1, so builds are told apart by the line the plugin prints before each one
 * (`Building <what> → <ref>`).
 */
export function dockerBuilds(lines: string[], { skipBases = false } = {}): DockerStep[][] {
  const builds: DockerStep[][] = [];
  let names = new Map<string, string>();
  let cached = new Set<string>();
  let label = '';
  const flush = () => {
    if (skipBases && /^Building base /.test(label)) {
      names = new Map();
      cached = new Set();
      return;
    }
    const steps = [...names]
      .filter(([, n]) => /^\[[^\]]*\d+\/\d+\] /.test(n) && !/\] FROM /i.test(n))
      .map(([id, name]) => ({ name, cached: cached.has(id) }))
      .sort((a, b) => stepIndex(a.name) - stepIndex(b.name));
    if (steps.length) builds.push(steps);
    names = new Map();
    cached = new Set();
  };
  for (const line of lines) {
    if (/^Building .* → /.test(line)) {
      flush();
      label = line;
    }
    const match = /^#(\d+) (.*)$/.exec(line.trimEnd());
    if (!match) continue;
    const [, id, rest] = match;
    if (!names.has(id)) names.set(id, rest);
    else if (rest === 'CACHED') cached.add(id);
  }
  flush();
  return builds;
}

/** `[deps 3/6] COPY …` → 3: the Dockerfile order BuildKit's printing order does not keep. */
function stepIndex(name: string): number {
  return Number(/(\d+)\/\d+\]/.exec(name)?.[1] ?? 0);
}

/** The one build a project ran in this output (fails loudly if it ran none or several). */
export function onlyBuild(output: string, project: string): DockerStep[] {
  // A base is built by whichever task needs it first (docker-base or a service's docker-service): not this project's own build.
  const builds = dockerBuilds(projectLines(output, project), { skipBases: true });
  if (builds.length !== 1) throw new Error(`expected exactly one docker build for ${project}, saw ${builds.length}:\n${output}`);
  return builds[0];
}

/** `{ run, cached }` counts of a list of steps. */
export function countSteps(steps: DockerStep[]): { total: number; run: number; cached: number } {
  const cached = steps.filter((s) => s.cached).length;
  return { total: steps.length, run: steps.length - cached, cached };
}

/** Every line, in any task, that contains `text`. */
export function linesWith(output: string, text: string | RegExp): string[] {
  return output.split('\n').filter((l) => (typeof text === 'string' ? l.includes(text) : text.test(l)));
}

/** The `✖ …` error sentences the plugin printed (prefix removed). */
export function errorSentences(output: string): string[] {
  return output
    .split('\n')
    .map((l) => /(?:^|: )✖ (.*)$/.exec(l)?.[1])
    .filter((s): s is string => !!s);
}

/** The project whose task built the base in this output (`Building base <name> → …`), and that build's steps. */
export function baseBuild(output: string): { project: string; steps: DockerStep[] } {
  const line = output.split('\n').find((l) => /^[\w.@/-]+: Building base /.test(l));
  if (!line) throw new Error(`no task built a base in this output:\n${output}`);
  const project = line.slice(0, line.indexOf(': '));
  const lines = projectLines(output, project);
  const start = lines.findIndex((l) => /^Building base /.test(l));
  const end = lines.findIndex((l, i) => i > start && /^Building .* → /.test(l));
  const [steps] = dockerBuilds(lines.slice(start, end === -1 ? undefined : end));
  return { project, steps: steps ?? [] };
}
