import { ExecutorContext, logger, workspaceRoot } from '@nx/devkit';
import { join } from 'node:path';
import { DockerEngine, DockerError, probeDocker } from '../../engine/docker';
import { fileEndpointHints } from '../../engine/endpoint-hints';
import { RegistryClient, RegistryError } from '../../engine/registry';
import { DockerfileError } from '../../planning/dockerfile';
import { ImageRefError } from '../../planning/image-ref';
import { ReleaseError } from '../../planning/release';
import { BaseSpec, EXECUTORS } from '../../planning/targets';
import { BuildInputError } from '../../builds/base';
import { ImageSettings, SettingsError } from '../../builds/settings';
import { SecretError } from '../../builds/secrets';
import { ContextError } from '../../context/reader';
import { RunLedger, runLedgerFor } from '../../builds/run-ledger';
import { workspaceDataDirectory } from '../../utils/workspace-data';

/** Every base the workspace defines, read from the docker-base targets Nx resolved. */
export function workspaceBases(context: ExecutorContext): Array<{ spec: BaseSpec; project: string }> {
  const bases: Array<{ spec: BaseSpec; project: string }> = [];
  for (const [project, config] of Object.entries(context.projectsConfigurations.projects)) {
    for (const target of Object.values(config.targets ?? {})) {
      if (target.executor !== EXECUTORS.base) continue;
      for (const spec of (target.options?.bases ?? []) as BaseSpec[]) bases.push({ spec, project });
    }
  }
  return bases;
}

/** The Nx hash of a task of this project (what Nx caches it under). */
export function taskHash(context: ExecutorContext, target = context.targetName): string | undefined {
  const tasks = context.taskGraph?.tasks ?? {};
  const id = [context.projectName, target, context.configurationName].filter(Boolean).join(':');
  return tasks[id]?.hash ?? Object.values(tasks).find((t) => t.target.project === context.projectName && t.target.target === target)?.hash;
}

export async function engineFor(settings: Pick<ImageSettings, 'dockerBin' | 'insecureRegistries'>): Promise<DockerEngine> {
  const registry = new RegistryClient({
    env: process.env,
    insecureRegistries: settings.insecureRegistries,
    endpointHints: fileEndpointHints(join(workspaceDataDirectory(workspaceRoot), 'nx-docker-delta-registry-endpoints.json')),
  });
  const client = await probeDocker({ bin: settings.dockerBin, cacheFile: probeCacheFile() });
  if (client.note) logger.info(`${client.bin} ${client.clientVersion}: ${client.note}`);
  return new DockerEngine(client, registry);
}

/** What earlier tasks of this nx invocation verified (builds/run-ledger.ts). */
export function runLedger(root = workspaceRoot): RunLedger | undefined {
  return runLedgerFor(workspaceDataDirectory(root), process.env);
}

/** The docker probe is shared by every task process of the workspace (engine/probe-cache.ts). */
export function probeCacheFile(root = workspaceRoot): string {
  return join(workspaceDataDirectory(root), 'nx-docker-delta-docker-probe.json');
}

/** Aborts on Ctrl-C / SIGTERM so the docker child is stopped and nothing is recorded. */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    // Said at once: Nx may end this process right after Ctrl-C, before the build's own error.
    process.stderr.write(`\n✖ ${signal === 'SIGINT' ? 'Interrupted' : 'Terminated'} — stopping the docker build; nothing is recorded. Run the target again.\n`);
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

const EXPECTED = [DockerError, RegistryError, DockerfileError, ImageRefError, BuildInputError, SettingsError, SecretError, ContextError, ReleaseError];

/** Runs an executor body: expected failures become one clear sentence and `success: false`. */
export async function runReported(body: (log: (line: string) => void, signal: AbortSignal) => Promise<void>): Promise<{ success: boolean }> {
  const { signal, dispose } = interruptSignal();
  try {
    await body((line) => logger.info(line), signal);
    return { success: true };
  } catch (error) {
    const expected = EXPECTED.some((type) => error instanceof type) || (error instanceof Error && !error.stack?.includes('\n'));
    if (error instanceof DockerError && error.tail.length) {
      logger.error(error.tail.map((l) => `  │ ${l}`).join('\n'));
    }
    logger.error(`✖ ${(error as Error).message}`);
    if (!expected) logger.verbose((error as Error).stack ?? '');
    return { success: false };
  } finally {
    dispose();
  }
}
