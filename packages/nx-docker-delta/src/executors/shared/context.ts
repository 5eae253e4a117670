import type { ExecutorContext } from '@nx/devkit';
import type { DockerEngine } from '../../engine/docker';
import type { BaseSpec } from '../../planning/targets';
import type { ImageSettings } from '../../builds/settings';
import type { RunLedger } from '../../builds/run-ledger';
import type { PeerService, ServiceOptions } from '../../builds/service';
import { resolveSettings } from '../../builds/settings';
import { EXECUTORS } from '../../planning/targets';
import { basesOf, EntryLogger, engineIn, runLedgerIn, runReportedWith } from './run';

export { interruptSignal, probeCacheFile } from './run';

/** Every base the workspace defines, read from the docker-base targets Nx resolved. */
export function workspaceBases(context: ExecutorContext): Array<{ spec: BaseSpec; project: string }> {
  return basesOf(context.projectsConfigurations.projects);
}

/** The Nx hash of a task of this project (what Nx caches it under). */
export function taskHash(context: ExecutorContext, target = context.targetName): string | undefined {
  const tasks = context.taskGraph?.tasks ?? {};
  const id = [context.projectName, target, context.configurationName].filter(Boolean).join(':');
  return tasks[id]?.hash ?? Object.values(tasks).find((t) => t.target.project === context.projectName && t.target.target === target)?.hash;
}

/*
 * Nothing here loads @nx/devkit's index: in a task process that is ~80 ms before the executor
 * runs (Nx has not loaded most of it there), on the critical path of every delta. The executors
 * print as Nx's logger does (info: console.info; verbose: stderr with NX_VERBOSE_LOGGING; error:
 * Nx's own logger — nx is a peer dependency, @nx/devkit an optional one — loaded then), and take the workspace root from Nx's small module.
 */
const taskLogger: EntryLogger = {
  info: (line) => console.info(line),
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  error: (line) => (require('nx/src/utils/logger') as { logger: { error: (s: string) => void } }).logger.error(line),
  verbose: (line) => {
    if (process.env.NX_VERBOSE_LOGGING === 'true') console.warn(line);
  },
};

/** The workspace root as Nx finds it (what @nx/devkit's `workspaceRoot` is). */
function nxWorkspaceRoot(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('nx/src/utils/workspace-root') as { workspaceRoot: string }).workspaceRoot;
}

export async function engineFor(settings: Pick<ImageSettings, 'dockerBin' | 'insecureRegistries'>): Promise<DockerEngine> {
  return engineIn(nxWorkspaceRoot(), settings, taskLogger);
}

/** What earlier tasks of this nx invocation verified (builds/run-ledger.ts). */
export function runLedger(root = nxWorkspaceRoot()): RunLedger | undefined {
  return runLedgerIn(root);
}

/** Runs an executor body: expected failures become one clear sentence and `success: false`. */
export function runReported(body: (log: (line: string) => void, signal: AbortSignal) => Promise<void>): Promise<{ success: boolean }> {
  return runReportedWith(taskLogger, body);
}

/**
 * The other image builds of this run (docker-service tasks in the task graph), for work stealing
 * while this task waits for a dependency set (builds/service.ts peerWork): those after this task
 * in the graph's order first (not started yet), then the earlier ones. A peer whose options do
 * not resolve is left out (its own task reports them).
 */
export function peerServices(context: ExecutorContext, git: { sha?: string }): PeerService[] {
  const tasks = Object.values(context.taskGraph?.tasks ?? {});
  const own = tasks.findIndex((t) => t.target.project === context.projectName && t.target.target === context.targetName);
  const ordered = own < 0 ? tasks : [...tasks.slice(own + 1), ...tasks.slice(0, own)];
  const peers: PeerService[] = [];
  for (const task of ordered) {
    const { project, target, configuration } = task.target;
    const config = context.projectsConfigurations.projects[project];
    const definition = config?.targets?.[target];
    if (definition?.executor !== EXECUTORS.service) continue;
    const overrides = Object.fromEntries(Object.entries(task.overrides ?? {}).filter(([key]) => !key.startsWith('__')));
    const options = { ...definition.options, ...(configuration ? definition.configurations?.[configuration] : {}), ...overrides } as ServiceOptions;
    if (typeof options.dockerfile !== 'string') continue;
    try {
      peers.push({ project, projectRoot: config.root, options, settings: resolveSettings(options, process.env, git, context.root) });
    } catch {
      /* its own task says what is wrong with its options */
    }
  }
  return peers;
}
