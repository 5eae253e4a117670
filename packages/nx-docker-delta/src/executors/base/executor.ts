import { ExecutorContext, PromiseExecutor } from '@nx/devkit';
import { ensureBase } from '../../builds/base';
import { refreshUpstreams } from '../../builds/refresh';
import { resolveSettings } from '../../builds/settings';
import { readGitInfo } from '../../engine/git';
import { engineFor, runLedger, runReported } from '../shared/context';
import type { BaseExecutorSchema } from './schema';

/** docker-base: make every base of this project available under its content-addressed tag. */
const runExecutor: PromiseExecutor<BaseExecutorSchema> = async (options, context: ExecutorContext) =>
  runReported(async (log, signal) => {
    const settings = resolveSettings(options, process.env, await readGitInfo(context.root), context.root);
    const engine = await engineFor(settings);
    for (const spec of options.bases) {
      if (options.refresh) await refreshUpstreams(spec, { workspaceRoot: context.root, engine, log });
      await ensureBase(
        { ...spec, buildArgs: { ...options.buildArgs, ...spec.buildArgs } },
        { workspaceRoot: context.root, project: context.projectName as string, engine, settings, log, signal, ledger: runLedger(context.root) }
      );
    }
  });

export default runExecutor;
