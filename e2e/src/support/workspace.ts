/**
 * A fresh Nx workspace as a user gets it from `create-nx-workspace`, and the
 * commands the suite runs in it (nx, npm, git), each logged to one file.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run, RunOptions, RunResult } from '../../../tools/e2e/process';
import { DockerStep, TaskRun, dockerBuilds, parseTasks } from './nx-output';

/** The fields of a receipt (dist/nx-docker-delta/…json) the suite checks, as a user reads them. */
export interface Receipt {
  kind: 'base' | 'service';
  project: string;
  image: string;
  ref: string;
  tags: string[];
  imageId: string;
  digest?: string;
  pushed: boolean;
  base?: { name: string; ref: string };
  /** The dependency image it took node_modules from. */
  deps?: { ref: string; outcome: 'built' | 'reused' | 'pulled' | 'remote' };
  /** Set when the image was assembled without a docker build of the service: in the registry (push mode) or, `local`, with docker load. */
  assembled?: { runtime: string; runtimeOutcome: 'found' | 'pushed' | 'built'; layer: string; files: number; uploaded: number; local?: true };
  steps: { total: number; run: number; cached: number };
  outcome: string;
}

/** Environment of every command in a workspace: the suite's own NX_* variables never leak in. */
export function commandEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // The e2e target itself runs under Nx: its task variables (NX_TASK_TARGET_PROJECT,
    // NX_WORKSPACE_ROOT…) and npm's would point the workspace's nx at this repository.
    // npm_* (lowercase) are what an outer `npm test` exports; NPM_CONFIG_USERCONFIG (the suite's) stays.
    if (/^(NX_|npm_|JEST_)/.test(key) || key === 'PUSH' || key === 'NX_DOCKER_PUSH') continue;
    env[key] = value;
  }
  Object.assign(env, {
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    NX_SKIP_NX_CACHE: undefined,
    FORCE_COLOR: '0',
    NO_COLOR: '1',
    NPM_CONFIG_YES: 'true',
    NPM_CONFIG_UPDATE_NOTIFIER: 'false',
    NPM_CONFIG_FUND: 'false',
    NPM_CONFIG_AUDIT: 'false',
    GIT_AUTHOR_NAME: 'e2e',
    GIT_AUTHOR_EMAIL: 'e2e@example.invalid',
    GIT_COMMITTER_NAME: 'e2e',
    GIT_COMMITTER_EMAIL: 'e2e@example.invalid',
  });
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env;
}

/** One nx invocation, read the way a user reads it. */
export class NxRun {
  readonly tasks: TaskRun[];
  constructor(readonly result: RunResult) {
    this.tasks = parseTasks(result.output);
  }
  get output(): string {
    return this.result.output;
  }
  task(project: string, target: string): TaskRun | undefined {
    return this.tasks.find((t) => t.project === project && t.target === target);
  }
  /** Projects whose `target` really ran (no cache hit). */
  ran(target: string): string[] {
    return this.tasks.filter((t) => t.target === target && !t.cache).map((t) => t.project).sort();
  }
  /** Projects whose `target` was restored from a cache. */
  restored(target: string, source?: 'local' | 'remote'): string[] {
    return this.tasks.filter((t) => t.target === target && t.cache && (!source || t.cache === source)).map((t) => t.project).sort();
  }
  /** The steps of the last BuildKit build in a task's output. */
  steps(project: string, target = 'docker-service'): DockerStep[] {
    const builds = dockerBuilds(this.task(project, target)?.output ?? '');
    return builds[builds.length - 1] ?? [];
  }
  /** Steps of every build the task ran: a dependency image's build comes before the service's. */
  allSteps(project: string, target = 'docker-service'): DockerStep[] {
    return dockerBuilds(this.task(project, target)?.output ?? '').flat();
  }
  /**
   * Lines matching `pattern` in the output of tasks that ran. Nx replays the terminal output of
   * a cache hit (its "Building …" lines included), so restored tasks never count.
   */
  count(pattern: RegExp): number {
    const re = new RegExp(pattern.source, 'gm');
    return this.tasks.filter((t) => !t.cache).reduce((n, t) => n + (t.output.match(re)?.length ?? 0), 0);
  }
}

export class Workspace {
  constructor(
    readonly dir: string,
    /** Variables added to every command (registry, Nx cache folder…). */
    public env: Record<string, string | undefined>,
    readonly logFile: string
  ) {}

  private opts(extra: Record<string, string | undefined> = {}, o: Partial<RunOptions> = {}): RunOptions {
    return { cwd: this.dir, env: commandEnv({ ...this.env, ...extra }), logFile: this.logFile, ...o };
  }

  /** Runs the workspace's own nx (never a global one). */
  async nx(args: string[], extraEnv: Record<string, string | undefined> = {}, o: Partial<RunOptions> = {}): Promise<NxRun> {
    return new NxRun(await run(process.execPath, [this.nxBin(), ...args], this.opts(extraEnv, o)));
  }

  /** The workspace's nx entry point, from its package.json (bin/ in Nx 20–21, dist/bin/ in 23). */
  private nxBin(): string {
    const manifest = JSON.parse(this.read('node_modules/nx/package.json'));
    const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin.nx;
    return join(this.dir, 'node_modules/nx', bin);
  }

  npm(args: string[], extraEnv: Record<string, string | undefined> = {}): Promise<RunResult> {
    return run('npm', args, this.opts(extraEnv));
  }

  git(args: string[]): Promise<RunResult> {
    return run('git', args, this.opts());
  }

  async commit(message: string): Promise<void> {
    await this.git(['add', '-A']);
    await this.git(['commit', '-q', '-m', message]);
  }

  write(path: string, content: string): void {
    const abs = join(this.dir, path);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  }

  read(path: string): string {
    return readFileSync(join(this.dir, path), 'utf8');
  }

  exists(path: string): boolean {
    return existsSync(join(this.dir, path));
  }

  serviceReceipt(projectRoot: string): Receipt {
    return JSON.parse(this.read(`dist/nx-docker-delta/${projectRoot}/docker-service.json`));
  }

  baseReceipt(name: string): Receipt {
    return JSON.parse(this.read(`dist/nx-docker-delta/bases/${name}.json`));
  }

  /**
   * A second checkout of this repository at HEAD, as another machine has it: `git clone`
   * plus a copy of node_modules (what `npm ci` would produce from the same lockfile, minus
   * minutes of installing; npm's workspace links are relative, so they point into the clone).
   */
  async clone(dir: string, env: Record<string, string | undefined>, logFile: string): Promise<Workspace> {
    await run('git', ['clone', '-q', this.dir, dir], { env: commandEnv({}), logFile });
    cpSync(join(this.dir, 'node_modules'), join(dir, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    return new Workspace(dir, env, logFile);
  }
}

export interface CreateOptions {
  nxVersion: string;
  /** Folder to create the workspace in (`<parent>/<name>`). */
  parent: string;
  name: string;
  logFile: string;
}

/** `create-nx-workspace --preset=ts` with npm, the flags that work non-interactively for this Nx major. */
export async function createWorkspace(o: CreateOptions): Promise<string> {
  mkdirSync(o.parent, { recursive: true });
  const major = Number(o.nxVersion.split('.')[0]);
  const args = [
    '-y',
    `create-nx-workspace@${o.nxVersion}`,
    o.name,
    '--preset=ts',
    '--no-interactive',
    '--nxCloud=skip',
    '--packageManager=npm',
    '--formatter=none',
    '--linter=none',
    '--unitTestRunner=none',
    ...(major >= 22 ? ['--aiAgents=none'] : []),
  ];
  await run('npx', args, { cwd: o.parent, env: commandEnv({}), logFile: o.logFile, timeoutMs: 10 * 60_000 });
  return join(o.parent, o.name);
}
