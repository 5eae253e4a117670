import { ExecutorContext, PromiseExecutor, logger, readCachedProjectGraph } from '@nx/devkit';
import { join } from 'node:path';
import { BuildInputError } from '../../builds/base';
import { ServiceOptions, buildService, writeReceipt } from '../../builds/service';
import { resolveBuildInputs, resolveSettings } from '../../builds/settings';
import { checkStart } from '../../builds/smoke';
import { applyTags, checkAvailability, expectedServiceRef } from '../../builds/verify';
import { readGitInfo } from '../../engine/git';
import { isReceipt, summaryLine } from '../../planning/receipt';
import { BaseSpec, EXECUTORS, baseReceiptPath, serviceReceiptPath } from '../../planning/targets';
import { readJsonIfExists } from '../../utils/fs';
import { engineFor, runLedger, runReported, taskHash, workspaceBases } from '../shared/context';
import type { VerifyExecutorSchema } from './schema';

/**
 * docker-build: the entry point. Its dependencies built (or restored from the Nx cache) the
 * receipts; this checks each image is really available, restores it by digest or rebuilds it
 * when not, applies the configured tags, and prints what happened. A cache hit therefore
 * never claims a missing image.
 */
const runExecutor: PromiseExecutor<VerifyExecutorSchema> = async ({ targets, smoke, smokeTimeout, smokePort, ...overrides }, context: ExecutorContext) =>
  runReported(async (log, signal) => {
    const project = context.projectName as string;
    const config = context.projectsConfigurations.projects[project];
    const git = await readGitInfo(context.root);
    for (const targetName of targets) {
      const target = config.targets?.[targetName];
      if (!target) throw new BuildInputError(`Project ${project} has no target "${targetName}" — fix the "targets" option of ${context.targetName}.`);
      const targetOptions = {
        ...target.options,
        ...(context.configurationName ? target.configurations?.[context.configurationName] : {}),
        ...overrides,
      };
      const settings = resolveSettings(targetOptions, process.env, git);
      if (target.executor === EXECUTORS.base) {
        for (const spec of targetOptions.bases as BaseSpec[]) {
          const receipt = readJsonIfExists(join(context.root, baseReceiptPath(spec.name)));
          if (!isReceipt(receipt)) throw new BuildInputError(`No receipt for base ${spec.name} — run nx run ${project}:${targetName}.`);
          logger.info(`✔ base ${spec.name}: ${receipt.outcome} → ${receipt.ref}`);
        }
        continue;
      }
      if (target.executor !== EXECUTORS.service) continue;
      const variant = targetOptions.variant as string | undefined;
      const receiptPath = serviceReceiptPath(config.root, variant);
      const receipt = readJsonIfExists(join(context.root, receiptPath));
      if (!isReceipt(receipt)) {
        throw new BuildInputError(`No receipt at ${receiptPath} — run nx run ${project}:${targetName} first.`);
      }
      // Built and inspected by docker-service moments ago, in this same nx invocation: nothing to check.
      const seen = runLedger(context.root)?.get(receipt.ref);
      const engine = await engineFor(settings);
      const inputHash = taskHash(context, targetName) ?? receipt.inputHash;
      const expected = expectedServiceRef({ project, image: targetOptions.image, variant, settings, inputHash, engine });
      if (
        receipt.ref === expected.ref &&
        seen?.imageId === receipt.imageId &&
        (seen.pushed || !settings.push) &&
        settings.tags.every((t) => receipt.tags.includes(t))
      ) {
        logger.info(`✔ ${project}: ${receipt.ref} was built and checked earlier in this run (${describe(receipt)})`);
        if (smoke) await checkStart(receipt.ref, { project, engine, log, signal, smokeTimeout, smokePort });
        continue;
      }
      const availability = await checkAvailability(receipt, engine, settings, expected);
      if (!availability.available) {
        log(`${project}: ${availability.note} — rebuilding it.`);
        const rebuilt = await buildService(targetOptions as ServiceOptions, {
          workspaceRoot: context.root,
          project,
          projectRoot: config.root,
          projectGraph: context.projectGraph ?? readCachedProjectGraph(),
          engine,
          // Secrets are read only now: checking an image needs no token, rebuilding it may.
          settings: { ...settings, ...resolveBuildInputs(targetOptions, process.env, context.root) },
          bases: workspaceBases(context),
          inputHash,
          log,
          signal,
          git,
          outcome: 'rebuilt',
        });
        logger.info(`✔ ${summaryLine(rebuilt, project)}`);
        if (smoke) await checkStart(rebuilt.ref, { project, engine, log, signal, smokeTimeout, smokePort });
        continue;
      }
      // Tags that move with the commit ({shortSha}) or were added since: point them at the verified image.
      const tagged = await applyTags(availability.receipt, settings, engine);
      const changed =
        tagged.imageId !== receipt.imageId || tagged.digest !== receipt.digest || tagged.tags.join() !== receipt.tags.join();
      // A restored receipt is corrected to what is really there; a fresh one keeps its outcome.
      if (availability.outcome !== 'reused') writeReceipt(context.root, config.root, tagged, variant);
      else if (changed) writeReceipt(context.root, config.root, { ...tagged, outcome: 'reused' }, variant);
      logger.info(`✔ ${project}: ${availability.note} (${describe(receipt)})`);
      if (smoke) await checkStart(tagged.ref, { project, engine, log, signal, smokeTimeout, smokePort });
    }
  });

function describe(receipt: { outcome: string; steps: { run: number; cached: number }; assembled?: unknown }): string {
  if (receipt.outcome !== 'built' && receipt.outcome !== 'rebuilt') return receipt.outcome;
  return receipt.assembled ? 'assembled in the registry' : `built: ${receipt.steps.run} run, ${receipt.steps.cached} cached`;
}

export default runExecutor;
