import { ExecutorContext, logger, workspaceRoot } from '@nx/devkit';
import type { DockerEngine } from '../../engine/docker';
import type { BaseSpec } from '../../planning/targets';
import type { ImageSettings } from '../../builds/settings';
import type { RunLedger } from '../../builds/run-ledger';
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
