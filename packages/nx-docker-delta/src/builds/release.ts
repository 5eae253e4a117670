import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { DockerEngine } from '../engine/docker';
import { RegistryError } from '../engine/registry';
import { assertTag } from '../planning/image-ref';
import { isReceipt } from '../planning/receipt';
import { DEFAULT_RELEASE_TAGS, PublishStep, ReleaseError, publishSteps, releaseTags, releaseVersion } from '../planning/release';
import { serviceReceiptPath } from '../planning/targets';
import { readJsonIfExists } from '../utils/fs';

/** Options of the release-publish executor (schema.json is the source of truth). */
export interface ReleasePublishOptions {
  /** The version to tag. Default: `version` in the project's package.json (what `nx release version` wrote). */
  version?: string;
  /** Tag templates, e.g. `["{version}", "{minor}", "latest"]`. Default `["{version}"]`. */
  tags?: string[];
  /** `nx release publish --tag next`: one more image tag. */
  tag?: string;
  /** Print what would be tagged; change nothing. */
  dryRun?: boolean;
  /** What `nx release` passes to publish: per project, the version it computed in this run. */
  nxReleaseVersionData?: Record<string, { newVersion?: string | null }>;
}

export interface ReleaseContext {
  workspaceRoot: string;
  project: string;
  projectRoot: string;
  /** Asked for only when the registry wants credentials the docker client has. */
  engine: () => Promise<DockerEngine>;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * `nx release publish` for one service: points the release tags at the digest its receipt
 * recorded. Registry-side (manifest by digest → same manifest under the tag) when the registry
 * allows it, else pull by digest + tag + push through the docker client; either way the tag
 * ends on the recorded digest, and no local image is needed.
 */
export async function publishRelease(options: ReleasePublishOptions, ctx: ReleaseContext): Promise<PublishStep[]> {
  const receiptPath = serviceReceiptPath(ctx.projectRoot);
  const receipt = readJsonIfExists(join(ctx.workspaceRoot, receiptPath));
  if (!isReceipt(receipt)) {
    throw new ReleaseError(
      `No image receipt for ${ctx.project} at ${receiptPath} — run nx run ${ctx.project}:docker-build --push first (on CI a cache hit of docker-service restores it).`
    );
  }
  const packageJsonPath = posix.join(ctx.projectRoot, 'package.json');
  const absolute = join(ctx.workspaceRoot, packageJsonPath);
  const { version, source } = releaseVersion({
    option: options.version,
    computed: options.nxReleaseVersionData?.[ctx.project]?.newVersion,
    packageJson: existsSync(absolute) ? readFileSync(absolute, 'utf8') : undefined,
    packageJsonPath,
    project: ctx.project,
  });
  const tags = releaseTags(version, options.tags ?? DEFAULT_RELEASE_TAGS);
  if (options.tag) {
    assertTag(options.tag);
    if (!tags.includes(options.tag)) tags.push(options.tag);
  }
  const steps = publishSteps(receipt, tags, receiptPath);
  ctx.log(`${ctx.project} ${version} (from ${source}) is ${receipt.image}@${receipt.digest}`);
  if (options.dryRun) {
    for (const step of steps) ctx.log(`[dry-run] would tag ${step.target} → ${receipt.digest}`);
    return steps;
  }
  const engine = await ctx.engine();
  for (const step of steps) {
    let digest: string;
    let how: string;
    try {
      // The manifest the receipt recorded, written back under the release tag: no image data
      // passes through this machine, and the tag names exactly the recorded digest.
      const manifest = await engine.registry.getManifest(`${receipt.image}@${receipt.digest}`);
      if (!manifest) {
        throw new ReleaseError(
          `${receipt.image}@${receipt.digest} is not in the registry any more — push the image again (nx run ${ctx.project}:docker-build --push), then release.`
        );
      }
      digest = await engine.registry.putManifest(step.target, manifest.body, manifest.mediaType);
      how = 'in the registry';
    } catch (error) {
      if (!(error instanceof RegistryError)) throw error;
      digest = await engine.retag(step.source, step.target, { signal: ctx.signal });
      how = `through the docker client (${error.message.replace(/[.]$/, '')})`;
    }
    if (digest !== receipt.digest) {
      throw new ReleaseError(`${step.target} now points at ${digest}, not the recorded ${receipt.digest} — the registry rewrote the manifest; push with docker-build --push and release again.`);
    }
    ctx.log(`Tagged ${step.target} → ${digest} ${how}`);
  }
  return steps;
}
