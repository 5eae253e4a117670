import { ExecutorContext, PromiseExecutor, logger, readCachedProjectGraph } from '@nx/devkit';
import { BuildInputError } from '../../builds/input-error';
import { GuardedTarget, verifyTargets } from '../../builds/verify';
import { readGitInfo } from '../../engine/git';
import { engineFor, runLedger, runReported, taskHash, workspaceBases } from '../shared/context';
import type { VerifyExecutorSchema } from './schema';

/**
 * docker-build: the entry point. Its dependencies built (or restored from the Nx cache) the
 * receipts; builds/verify.ts checks each image is really available, restores or rebuilds it
 * when not, applies the configured tags, and prints what happened.
 */
const runExecutor: PromiseExecutor<VerifyExecutorSchema> = async ({ targets, smoke, smokeTimeout, smokePort, ...overrides }, context: ExecutorContext) =>
  runReported(async (log, signal) => {
    const project = context.projectName as string;
    const config = context.projectsConfigurations.projects[project];
    const guarded: GuardedTarget[] = targets.map((name) => {
      const target = config.targets?.[name];
      if (!target) throw new BuildInputError(`Project ${project} has no target "${name}" — fix the "targets" option of ${context.targetName}.`);
      const options = { ...target.options, ...(context.configurationName ? target.configurations?.[context.configurationName] : {}), ...overrides };
      return { name, executor: target.executor, options, taskHash: taskHash(context, name) };
    });
    await verifyTargets(guarded, {
      workspaceRoot: context.root,
      project,
      projectRoot: config.root,
      git: () => readGitInfo(context.root),
      engineFor,
      ledger: runLedger(context.root),
      projectGraph: () => context.projectGraph ?? readCachedProjectGraph(),
      bases: workspaceBases(context),
      env: process.env,
      targetName: context.targetName ?? 'docker-build',
      smoke: { smoke, smokeTimeout, smokePort },
      log,
      report: (line) => logger.info(line),
      signal,
    });
  });

export default runExecutor;
