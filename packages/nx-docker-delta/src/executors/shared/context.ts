import { ExecutorContext, logger, workspaceRoot } from '@nx/devkit';
import type { DockerEngine } from '../../engine/docker';
import type { BaseSpec } from '../../planning/targets';
import type { ImageSettings } from '../../builds/settings';
import type { RunLedger } from '../../builds/run-ledger';
import type { PeerService, ServiceOptions } from '../../builds/service';
import { resolveSettings } from '../../builds/settings';
import { EXECUTORS } from '../../planning/targets';
import { basesOf, engineIn, runLedgerIn, runReportedWith } from './run';

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

export async function engineFor(settings: Pick<ImageSettings, 'dockerBin' | 'insecureRegistries'>): Promise<DockerEngine> {
  return engineIn(workspaceRoot, settings, logger);
}

/** What earlier tasks of this nx invocation verified (builds/run-ledger.ts). */
export function runLedger(root = workspaceRoot): RunLedger | undefined {
  return runLedgerIn(root);
}

/** Runs an executor body: expected failures become one clear sentence and `success: false`. */
export function runReported(body: (log: (line: string) => void, signal: AbortSignal) => Promise<void>): Promise<{ success: boolean }> {
  return runReportedWith(logger, body);
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
