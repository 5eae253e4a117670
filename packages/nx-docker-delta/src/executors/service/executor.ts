import { ExecutorContext, PromiseExecutor, readCachedProjectGraph } from '@nx/devkit';
import { buildService } from '../../builds/service';
import { resolveSettings } from '../../builds/settings';
import { engineFor, runReported, taskHash, workspaceBases } from '../shared/context';
import type { ServiceExecutorSchema } from './schema';

/** docker-service: build this project's image on its base from its own context; write the receipt. */
const runExecutor: PromiseExecutor<ServiceExecutorSchema> = async (options, context: ExecutorContext) =>
  runReported(async (log, signal) => {
    const project = context.projectName as string;
    const settings = resolveSettings(options, process.env);
    const engine = await engineFor(settings.dockerBin);
    await buildService(options, {
      workspaceRoot: context.root,
      project,
      projectRoot: context.projectsConfigurations.projects[project].root,
      projectGraph: context.projectGraph ?? readCachedProjectGraph(),
      engine,
      settings,
      bases: workspaceBases(context),
      inputHash: taskHash(context) ?? `local-${Date.now().toString(36)}`,
      log,
      signal,
    });
  });

export default runExecutor;
