/**
 * What every entry point shares — the executors (through ./context.ts) and the `docker-build`
 * command (bin/docker-build.ts) alike. Free of `@nx/devkit`: that command runs in a plain node
 * process started by `nx:run-commands`, where loading Nx would cost most of what it saves.
 */
import { join } from 'node:path';
import type { DockerEngine } from '../../engine/docker';
import { RunLedger, runLedgerFor } from '../../builds/run-ledger';
import type { ImageSettings } from '../../builds/settings';
import { BaseSpec, EXECUTORS } from '../../planning/targets';
import { workspaceDataDirectory } from '../../utils/workspace-data';

export interface EntryLogger {
  info(line: string): void;
  error(line: string): void;
  /** Shown with `--verbose` only. */
  verbose(line: string): void;
}

/** The docker engine for a target's settings: one probe per machine state (engine/probe-cache.ts). */
export async function engineIn(root: string, settings: Pick<ImageSettings, 'dockerBin' | 'insecureRegistries'>, log: EntryLogger): Promise<DockerEngine> {
  // Loaded here, not at the top: a docker-build that finds its image checked earlier in the run needs no engine.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { DockerEngine, probeDocker } = require('../../engine/docker') as typeof import('../../engine/docker');
  const { RegistryClient } = require('../../engine/registry') as typeof import('../../engine/registry');
  const { fileEndpointHints } = require('../../engine/endpoint-hints') as typeof import('../../engine/endpoint-hints');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const registry = new RegistryClient({
    env: process.env,
    insecureRegistries: settings.insecureRegistries,
    endpointHints: fileEndpointHints(join(workspaceDataDirectory(root), 'nx-docker-delta-registry-endpoints.json')),
  });
  const client = await probeDocker({ bin: settings.dockerBin, cacheFile: probeCacheFile(root) });
  if (client.note) log.info(`${client.bin} ${client.clientVersion}: ${client.note}`);
  return new DockerEngine(client, registry);
}

/** What earlier tasks of this nx invocation verified (builds/run-ledger.ts). */
export function runLedgerIn(root: string): RunLedger | undefined {
  return runLedgerFor(workspaceDataDirectory(root), process.env);
}

/** The docker probe is shared by every task process of the workspace (engine/probe-cache.ts). */
export function probeCacheFile(root: string): string {
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

/**
 * The failures that are the user's to fix (one sentence, no stack). Their modules are loaded only
 * when something failed — an error of a class whose module was never loaded cannot be one of them.
 */
function expectedErrorTypes(): Array<new (...args: never[]) => Error> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return [
    (require('../../engine/docker') as typeof import('../../engine/docker')).DockerError,
    (require('../../engine/registry') as typeof import('../../engine/registry')).RegistryError,
    (require('../../planning/dockerfile') as typeof import('../../planning/dockerfile')).DockerfileError,
    (require('../../planning/image-ref') as typeof import('../../planning/image-ref')).ImageRefError,
    (require('../../builds/input-error') as typeof import('../../builds/input-error')).BuildInputError,
    (require('../../builds/settings') as typeof import('../../builds/settings')).SettingsError,
    (require('../../builds/secrets') as typeof import('../../builds/secrets')).SecretError,
    (require('../../context/reader') as typeof import('../../context/reader')).ContextError,
    (require('../../planning/release') as typeof import('../../planning/release')).ReleaseError,
  ];
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** Runs an entry point's body: expected failures become one clear sentence and `success: false`. */
export async function runReportedWith(log: EntryLogger, body: (log: (line: string) => void, signal: AbortSignal) => Promise<void>): Promise<{ success: boolean }> {
  const { signal, dispose } = interruptSignal();
  try {
    await body((line) => log.info(line), signal);
    return { success: true };
  } catch (error) {
    const expected = expectedErrorTypes().some((type) => error instanceof type) || (error instanceof Error && !error.stack?.includes('\n'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DockerError } = require('../../engine/docker') as typeof import('../../engine/docker');
    if (error instanceof DockerError && error.tail.length) {
      log.error(error.tail.map((l) => `  │ ${l}`).join('\n'));
    }
    log.error(`✖ ${(error as Error).message}`);
    if (!expected) log.verbose((error as Error).stack ?? '');
    return { success: false };
  } finally {
    dispose();
  }
}

/** Every base the workspace defines, read from its docker-base targets (as Nx resolved them). */
export function basesOf(projects: Record<string, { targets?: Record<string, { executor?: string; options?: Record<string, unknown> }> }>): Array<{ spec: BaseSpec; project: string }> {
  const bases: Array<{ spec: BaseSpec; project: string }> = [];
  for (const [project, config] of Object.entries(projects)) {
    for (const target of Object.values(config.targets ?? {})) {
      if (target.executor !== EXECUTORS.base) continue;
      for (const spec of (target.options?.bases ?? []) as BaseSpec[]) bases.push({ spec, project });
    }
  }
  return bases;
}
