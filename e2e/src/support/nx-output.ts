/**
 * Reads what a user reads in `nx run-many/affected --outputStyle=static` output:
 * which tasks ran or came from a cache, and, inside each task, which BuildKit
 * steps ran and which were CACHED. Independent of the plugin's own parser on
 * purpose: the suite checks the plugin, not itself.
 */

export type CacheSource = 'local' | 'remote';

export interface TaskRun {
  project: string;
  target: string;
  /** Where Nx restored the task from; undefined when it ran. */
  cache?: CacheSource;
  /** The task's own terminal output (static style prints it contiguously). */
  output: string;
}

export interface DockerStep {
  /** Stage name (`deps`, `runtime`…), undefined in single-stage builds. */
  stage?: string;
  index: number;
  total: number;
  instruction: string;
  cached: boolean;
}

const HEADER = /^> nx run (\S+?)(?::(\S+?))?(?::(\S+))?(?:\s+\[([^\]]+)\])?\s*$/;
const SECTION_END = /^(\s*—{5,}|\s*-{20,}|\s*NX\s{2,})/;

/** Splits static-style output into the tasks Nx printed, in order. */
export function parseTasks(output: string): TaskRun[] {
  const tasks: TaskRun[] = [];
  let current: { task: TaskRun; lines: string[] } | undefined;
  const close = () => {
    if (current) current.task.output = current.lines.join('\n');
    current = undefined;
  };
  for (const raw of output.split(/\r?\n/)) {
    const line = stripAnsi(raw);
    const header = HEADER.exec(line.trim());
    if (header) {
      close();
      const tag = header[4] ?? '';
      const cache: CacheSource | undefined = /remote cache/.test(tag) ? 'remote' : /local cache|existing outputs match the cache/.test(tag) ? 'local' : undefined;
      current = { task: { project: header[1], target: header[2] ?? '', cache, output: '' }, lines: [] };
      tasks.push(current.task);
      continue;
    }
    if (current && SECTION_END.test(line)) {
      close();
      continue;
    }
    current?.lines.push(line);
  }
  close();
  return tasks;
}

const VERTEX = /^#(\d+) (.*)$/;
const STEP = /^\[(?:(\S+) )?(\d+)\/(\d+)\] (.*)$/;

/** The BuildKit builds in one task's output (a new build starts at `#1 [internal] load …`), each as its Dockerfile steps. */
export function dockerBuilds(taskOutput: string): DockerStep[][] {
  const builds: DockerStep[][] = [];
  let names = new Map<string, string>();
  let cached = new Set<string>();
  let order: string[] = [];
  const flush = () => {
    if (order.length === 0) return;
    const steps: DockerStep[] = [];
    for (const id of order) {
      const m = STEP.exec(names.get(id) as string);
      if (!m || /^FROM /i.test(m[4])) continue;
      steps.push({ stage: m[1], index: Number(m[2]), total: Number(m[3]), instruction: m[4].replace(/\s+/g, ' '), cached: cached.has(id) });
    }
    builds.push(steps);
    names = new Map();
    cached = new Set();
    order = [];
  };
  for (const raw of taskOutput.split(/\r?\n/)) {
    const m = VERTEX.exec(stripAnsi(raw).trimEnd());
    if (!m) continue;
    const [, id, rest] = m;
    if (id === '1' && /^\[internal\] load/.test(rest) && names.has('1')) flush();
    if (!names.has(id)) {
      names.set(id, rest);
      order.push(id);
    } else if (rest === 'CACHED') {
      cached.add(id);
    }
  }
  flush();
  return builds;
}

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
}

/** One line per step, for failure messages: `deps 4/4 CACHED RUN npm ci`. */
export function describeSteps(steps: DockerStep[]): string {
  return steps.map((s) => `${s.stage ?? '-'} ${s.index}/${s.total} ${s.cached ? 'CACHED' : 'ran   '} ${s.instruction.slice(0, 90)}`).join('\n');
}
