import { ExecutorContext, PromiseExecutor } from '@nx/devkit';
import { publishRelease } from '../../builds/release';
import { ENV } from '../../constants';
import { engineFor, runReported } from '../shared/context';
import type { ReleasePublishExecutorSchema } from './schema';

/**
 * nx-release-publish: what `nx release publish` runs for a docker-service project. Tags the
 * image its receipt recorded (by digest) with the release version; never builds, never pushes
 * a local tag.
 */
const runExecutor: PromiseExecutor<ReleasePublishExecutorSchema> = async (options, context: ExecutorContext) =>
  runReported(async (log, signal) => {
    const project = context.projectName as string;
    const dockerBin = process.env[ENV.dockerBin] || undefined;
    await publishRelease(
      { version: options.version, tags: options.tags, tag: options.tag, dryRun: options.dryRun, nxReleaseVersionData: options.nxReleaseVersionData },
      {
        workspaceRoot: context.root,
        project,
        projectRoot: context.projectsConfigurations.projects[project].root,
        engine: () =>
          engineFor({
            dockerBin,
            insecureRegistries: (process.env[ENV.insecureRegistries] ?? '').split(',').map((r) => r.trim()).filter(Boolean),
          }),
        log,
        signal,
      }
    );
  });

export default runExecutor;
