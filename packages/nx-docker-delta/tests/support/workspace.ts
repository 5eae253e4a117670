/**
 * A real Nx workspace in a temp dir with the *built* plugin installed the way a user gets it
 * (a copy of package.json, executors.json, generators.json and dist as
 * node_modules/nx-docker-delta; every other package linked from the repo), a git history
 * for `nx affected`, its own Nx cache directory, and `nx` run as a child process with an
 * argv array.
 *
 * Why a copy and not a link to the repo package: Nx then resolves the executors to the .ts
 * sources (the package's `@nx-docker-delta/source` export condition) and fails to load them.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

export const REPO_ROOT = join(__dirname, '../../../..');
export const PLUGIN_ROOT = join(REPO_ROOT, 'packages/nx-docker-delta');
const NX_BIN = join(REPO_ROOT, 'node_modules/nx/dist/bin/nx.js');

/** Environment variables the plugin reads; a test sets them explicitly or not at all. */
const PLUGIN_ENV = ['NX_DOCKER_REGISTRY', 'NX_DOCKER_CACHE_REGISTRY', 'PUSH', 'NX_DOCKER_PUSH', 'NX_DOCKER_PLATFORM', 'NX_DOCKER_TAGS'];

/**
 * Builds the plugin when dist is missing or older than a source file. The `test-docker`
 * target already depends on `build`; this covers running jest directly.
 */
export function ensurePluginBuilt(): void {
  const stamp = join(PLUGIN_ROOT, 'dist/index.js');
  const newestSource = newestMtime(join(PLUGIN_ROOT, 'src'));
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource) return;
  const result = spawnSync(process.execPath, [NX_BIN, 'build', 'nx-docker-delta', '--output-style=stream'], {
    cwd: REPO_ROOT,
    env: { ...cleanEnv(process.env), NX_DAEMON: 'false' },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`nx build nx-docker-delta failed:\n${result.stdout}\n${result.stderr}`);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (/\.(ts|json)$/.test(entry.name) && !/\.spec\.ts$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** The parent's env without anything that would steer the child nx or the plugin. */
function cleanEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    // NX_TASK_*, NX_WORKSPACE_ROOT_PATH… come from an outer `nx run`; NX_DOCKER_BIN is the machine's client.
    if (key.startsWith('NX_') && key !== 'NX_DOCKER_BIN') continue;
    if (PLUGIN_ENV.includes(key)) continue;
    out[key] = value;
  }
  return out;
}

export interface NxResult {
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr, interleaved as they arrived, without colour codes. */
  output: string;
  durationMs: number;
}

export interface RunOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
}

export class TestWorkspace {
  readonly root: string;
  readonly cacheDir: string;
  private readonly scratch: string;

  private constructor(scratch: string) {
    this.scratch = scratch;
    this.root = join(scratch, 'ws');
    this.cacheDir = join(scratch, 'nx-cache');
    mkdirSync(this.root, { recursive: true });
    mkdirSync(this.cacheDir, { recursive: true });
  }

  /** Writes `files`, installs the built plugin, and commits everything as the first commit. */
  static create(files: Record<string, string>, label = 'nxdd'): TestWorkspace {
    const ws = new TestWorkspace(mkdtempSync(join(tmpdir(), `${label}-`)));
    ws.write(files);
    ws.installPlugin();
    ws.git(['init', '-q', '-b', 'main']);
    ws.commit('initial workspace');
    return ws;
  }

  /**
   * A second checkout of this workspace's HEAD (`git clone`: the same commit, so the same git
   * labels), with the plugin installed and its own Nx cache: another machine's clean checkout.
   */
  clone(label = 'nxdd-clone'): TestWorkspace {
    const ws = new TestWorkspace(mkdtempSync(join(tmpdir(), `${label}-`)));
    rmSync(ws.root, { recursive: true, force: true });
    const result = spawnSync('git', ['clone', '-q', this.root, ws.root], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`git clone failed: ${result.stderr}`);
    ws.installPlugin();
    return ws;
  }

  /** A folder next to the workspace (outside git and outside Nx's view) for test artefacts. */
  scratchPath(...parts: string[]): string {
    return join(this.scratch, ...parts);
  }

  private installPlugin(): void {
    const modules = join(this.root, 'node_modules');
    mkdirSync(modules);
    const repoModules = join(REPO_ROOT, 'node_modules');
    for (const entry of readdirSync(repoModules)) {
      if (entry === 'nx-docker-delta') continue;
      symlinkSync(join(repoModules, entry), join(modules, entry));
    }
    const plugin = join(modules, 'nx-docker-delta');
    mkdirSync(plugin);
    for (const item of ['package.json', 'executors.json', 'generators.json', 'dist']) {
      if (existsSync(join(PLUGIN_ROOT, item))) cpSync(join(PLUGIN_ROOT, item), join(plugin, item), { recursive: true });
    }
    // The plugin's own nested dependencies (versions that differ from the root's).
    const nested = join(PLUGIN_ROOT, 'node_modules');
    if (existsSync(nested)) {
      mkdirSync(join(plugin, 'node_modules'));
      for (const entry of readdirSync(nested)) {
        if (entry !== '.bin') symlinkSync(join(nested, entry), join(plugin, 'node_modules', entry));
      }
    }
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  write(files: Record<string, string>): void {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(this.path(path)), { recursive: true });
      writeFileSync(this.path(path), content);
    }
  }

  read(path: string): string {
    return readFileSync(this.path(path), 'utf8');
  }

  git(args: string[]): string {
    const result = spawnSync('git', args, {
      cwd: this.root,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'nxdd test',
        GIT_AUTHOR_EMAIL: 'nxdd-test@example.invalid',
        GIT_COMMITTER_NAME: 'nxdd test',
        GIT_COMMITTER_EMAIL: 'nxdd-test@example.invalid',
      },
    });
    if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout.trim();
  }

  commit(message: string): string {
    this.git(['add', '-A']);
    this.git(['commit', '-q', '--allow-empty', '-m', message]);
    return this.git(['rev-parse', 'HEAD']);
  }

  /** Puts tracked files back as committed (after a scenario that broke them on purpose). */
  restore(): void {
    this.git(['checkout', '-q', '--', '.']);
    // Ignored files (node_modules, receipts, Nx's workspace data) stay: no -x.
    this.git(['clean', '-fdq']);
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...cleanEnv(process.env),
      NX_DAEMON: 'false',
      NX_TUI: 'false',
      NX_NO_CLOUD: 'true',
      NX_CACHE_DIRECTORY: this.cacheDir,
      NO_COLOR: '1',
      FORCE_COLOR: '0',
      ...extra,
    };
  }

  /** Runs `nx <args>` to completion. */
  nx(args: string[], options: RunOptions = {}): Promise<NxResult> {
    return this.spawnNx(args, options).done;
  }

  /**
   * Starts `nx <args>` in its own process group (as a terminal runs a foreground job), so a
   * test can send Ctrl-C to the whole group. `output()` reads what was printed so far.
   */
  spawnNx(args: string[], options: RunOptions = {}): { child: ChildProcess; output: () => string; done: Promise<NxResult> } {
    const started = Date.now();
    const child = spawn(process.execPath, [NX_BIN, ...args], {
      cwd: this.root,
      env: this.env(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    const onData = (chunk: Buffer) => (output += chunk.toString('utf8'));
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const timeoutMs = options.timeoutMs ?? 5 * 60_000;
    const done = new Promise<NxResult>((resolve) => {
      const timer = setTimeout(() => {
        output += `\n[test] nx ${args.join(' ')} still running after ${timeoutMs} ms — killed\n`;
        killGroup(child, 'SIGKILL');
      }, timeoutMs);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ args, code, signal, output: stripAnsi(output), durationMs: Date.now() - started });
      });
    });
    return { child, output: () => stripAnsi(output), done };
  }

  readJson<T = any>(path: string): T | undefined {
    return existsSync(this.path(path)) ? (JSON.parse(this.read(path)) as T) : undefined;
  }

  /** Every file under `dir` (workspace-relative) with its bytes and mtime, to prove nothing changed. */
  snapshot(dir: string): Record<string, { content: string; mtimeMs: number }> {
    const out: Record<string, { content: string; mtimeMs: number }> = {};
    const visit = (abs: string) => {
      if (!existsSync(abs)) return;
      for (const entry of readdirSync(abs, { withFileTypes: true })) {
        const child = join(abs, entry.name);
        if (entry.isDirectory()) visit(child);
        else out[relative(this.root, child)] = { content: readFileSync(child, 'utf8'), mtimeMs: statSync(child).mtimeMs };
      }
    };
    visit(this.path(dir));
    return out;
  }

  /** Entries Nx has recorded in this workspace's cache (one folder per task hash). */
  cacheEntries(): string[] {
    return readdirSync(this.cacheDir).filter((e) => /^\d+$/.test(e)).sort();
  }

  dispose(): void {
    rmSync(this.scratch, { recursive: true, force: true });
  }
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Processes (pid + argv) whose command line contains `text` — Linux /proc, as on the CI machines. */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (argv.includes(text) && Number(pid) !== process.pid) found.push(`${pid} ${argv}`);
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '');
}
