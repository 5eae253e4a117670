import type { ExecutorContext, PromiseExecutor } from '@nx/devkit';
import { buildService } from '../../builds/service';
import { resolveSettings } from '../../builds/settings';
import { readGitInfo } from '../../engine/git';
import { engineFor, peerServices, runLedger, runReported, taskHash, workspaceBases } from '../shared/context';
import type { ServiceExecutorSchema } from './schema';

/** docker-service: build this project's image on its base from its own context; write the receipt. */
const runExecutor: PromiseExecutor<ServiceExecutorSchema> = async (options, context: ExecutorContext) =>
  runReported(async (log, signal) => {
    const project = context.projectName as string;
    const git = await readGitInfo(context.root);
    const settings = resolveSettings(options, process.env, git, context.root);
    const engine = await engineFor(settings);
    await buildService(options, {
      workspaceRoot: context.root,
      project,
      projectRoot: context.projectsConfigurations.projects[project].root,
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      projectGraph: context.projectGraph ?? (require('@nx/devkit') as typeof import('@nx/devkit')).readCachedProjectGraph(),
      engine,
      settings,
      bases: workspaceBases(context),
      inputHash: taskHash(context) ?? `local-${Date.now().toString(36)}`,
      log,
      signal,
      git,
      verbose: context.isVerbose,
      ledger: runLedger(context.root),
      peers: () => peerServices(context, git),
    });
  });

export default runExecutor;
