/**
 * `docker-build` as the inferred target runs it: `nx:run-commands` starts this file with plain
 * node, instead of Nx starting an executor process for the task (about 0.25 s of every delta on
 * a 2-core machine: the task process and Nx's modules in it). It does what the `verify` executor
 * does (builds/verify.ts) with what Nx gives a run-commands task:
 *
 * - the project from `NX_TASK_TARGET_PROJECT` (and `NX_TASK_TARGET_CONFIGURATION`);
 * - the targets to guard from `--targets=`, written into the command by inference;
 * - the project's target options, and every base, from the project graph Nx cached for this run
 *   (`project-graph.json` in the workspace data directory, read as JSON: no Nx module is loaded);
 * - image options given on the command line (`--push`, `--tags=v1,v2`, `--smoke`, …): Nx forwards
 *   them to the dependency tasks and appends them to this command; they are typed by the verify
 *   executor's schema.
 *
 * The one thing an executor has that a command has not is the task graph, so a receipt is checked
 * against the input hash it records (which is the Nx hash of the docker-service task that wrote it
 * or that Nx restored it for) instead of the hash Nx computed for that task in this run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildInputError } from '../builds/input-error';
import { GuardedTarget, verifyTargets } from '../builds/verify';
import { readGitInfo } from '../engine/git';
import { workspaceDataDirectory } from '../utils/workspace-data';
import { basesOf, EntryLogger, engineIn, runLedgerIn, runReportedWith } from '../executors/shared/run';

type Schema = { properties: Record<string, { type?: string }> };

/** Options of `nx:run-commands` itself, never the plugin's. */
const RUN_COMMANDS_OPTIONS = new Set(['command', 'commands', 'color', 'parallel', 'readyWhen', 'cwd', 'args', 'envFile', 'env', 'usePty', 'streamOutput', 'verbose', 'forwardAllArgs', 'tty', '__unparsed__']);
type ProjectNode = { root: string; targets?: Record<string, { executor?: string; options?: Record<string, unknown>; configurations?: Record<string, Record<string, unknown>> }> };

/** `--k=v`, `--k v`, `--k` (true), `--no-k` (false); repeated keys collect. Values stay strings here. */
export function parseArgv(argv: readonly string[]): Record<string, string | boolean | string[]> {
  const out: Record<string, string | boolean | string[]> = {};
  const put = (key: string, value: string | boolean) => {
    const known = out[key];
    if (known === undefined || typeof value === 'boolean') out[key] = value;
    else out[key] = [...(Array.isArray(known) ? known : [String(known)]), String(value)];
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new BuildInputError(`docker-build: unexpected argument "${arg}" — give options as --name=value.`);
    const eq = arg.indexOf('=');
    if (eq > 0) put(arg.slice(2, eq), arg.slice(eq + 1));
    else if (arg.startsWith('--no-')) put(arg.slice(5), false);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) put(arg.slice(2), argv[++i]);
    else put(arg.slice(2), true);
  }
  return out;
}

/** Command-line values typed as the verify executor's schema says (what Nx does for an executor). */
export function typeOptions(raw: Record<string, string | boolean | string[]>, schema: Schema): Record<string, unknown> {
  const typed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const type = schema.properties[key]?.type;
    if (!type) throw new BuildInputError(`docker-build has no option --${key} — see \`nx show project <project> --web\` or the README's options table.`);
    const values = Array.isArray(value) ? value : [value];
    if (type === 'array') typed[key] = values.flatMap((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : []));
    else if (type === 'boolean') typed[key] = values.at(-1) === true || values.at(-1) === 'true';
    else if (type === 'number' || type === 'integer') {
      const n = Number(values.at(-1));
      if (!Number.isFinite(n)) throw new BuildInputError(`docker-build --${key} must be a number, not "${values.at(-1)}".`);
      typed[key] = n;
    } else typed[key] = String(values.at(-1));
  }
  return typed;
}

function readProjects(root: string): Record<string, ProjectNode> {
  const file = join(workspaceDataDirectory(root), 'project-graph.json');
  let graph: { nodes?: Record<string, { data: ProjectNode }> };
  try {
    graph = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new BuildInputError(`docker-build needs the project graph Nx caches for each run (${file}: ${(error as Error).message}) — run it through nx: nx run <project>:docker-build.`);
  }
  return Object.fromEntries(Object.entries(graph.nodes ?? {}).map(([name, node]) => [name, node.data]));
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, log: EntryLogger): Promise<{ success: boolean }> {
  return runReportedWith(log, async (line, signal) => {
    const root = process.cwd();
    const project = env.NX_TASK_TARGET_PROJECT;
    if (!project) throw new BuildInputError('docker-build runs as an Nx task — run nx run <project>:docker-build (or nx affected -t docker-build).');
    const configuration = env.NX_TASK_TARGET_CONFIGURATION || undefined;
    const schema = JSON.parse(readFileSync(join(__dirname, '..', 'executors', 'verify', 'schema.json'), 'utf8')) as Schema;
    const { targets: rawTargets, ...rest } = parseArgv(argv);
    const targets = typeof rawTargets === 'string' ? rawTargets.split(',').filter(Boolean) : Array.isArray(rawTargets) ? rawTargets : [];
    if (targets.length === 0) throw new BuildInputError('docker-build was started without --targets=<target,…> — run nx reset so that inference writes the target again.');
    const overrides = typeOptions(rest, schema);
    const projects = readProjects(root);
    const config = projects[project];
    if (!config) throw new BuildInputError(`Project ${project} is not in the cached project graph — run nx reset and try again.`);
    const targetName = env.NX_TASK_TARGET_TARGET || 'docker-build';
    // Options set on the docker-build target itself (project.json, targetDefaults): run-commands
    // appends only those that are not lists, so every one is read here; the command line wins.
    const own = Object.fromEntries(Object.entries(config.targets?.[targetName]?.options ?? {}).filter(([k]) => !RUN_COMMANDS_OPTIONS.has(k) && k !== 'targets'));
    for (const key of Object.keys(own)) if (!schema.properties[key]) throw new BuildInputError(`docker-build has no option "${key}" — remove it from the ${targetName} target of ${project}.`);
    Object.assign(overrides, { ...own, ...overrides });
    const { smoke, smokeTimeout, smokePort, ...imageOptions } = overrides as Record<string, unknown> & { smoke?: boolean; smokeTimeout?: number; smokePort?: number };
    const guarded: GuardedTarget[] = targets.map((name) => {
      const target = config.targets?.[name];
      if (!target) throw new BuildInputError(`Project ${project} has no target "${name}" — fix the --targets of ${targetName}.`);
      const options = { ...target.options, ...(configuration ? target.configurations?.[configuration] : {}), ...imageOptions };
      return { name, executor: target.executor, options };
    });
    await verifyTargets(guarded, {
      workspaceRoot: root,
      project,
      projectRoot: config.root,
      git: () => readGitInfo(root),
      engineFor: (settings) => engineIn(root, settings, log),
      ledger: runLedgerIn(root),
      projectGraph: () => {
        // Only a rebuild needs the graph's dependencies (the pruned context): load Nx then.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { readCachedProjectGraph } = require('@nx/devkit') as typeof import('@nx/devkit');
        return readCachedProjectGraph();
      },
      bases: basesOf(projects),
      env,
      targetName,
      smoke: { smoke, smokeTimeout, smokePort },
      log: line,
      report: line,
      signal,
    });
  });
}

if (require.main === module) {
  const verbose = process.env.NX_VERBOSE_LOGGING === 'true';
  const log: EntryLogger = {
    info: (line) => process.stdout.write(`${line}\n`),
    error: (line) => process.stderr.write(`${line}\n`),
    verbose: (line) => (verbose ? process.stderr.write(`${line}\n`) : undefined),
  };
  main(process.argv.slice(2), process.env, log).then(
    (result) => process.exit(result.success ? 0 : 1),
    (error) => {
      process.stderr.write(`✖ ${(error as Error).stack ?? error}\n`);
      process.exit(1);
    }
  );
}
