import { assertTag, ImageRefError, parseImageRef } from './image-ref';
import type { ImageReceipt } from './receipt';

/** The image tags a release gets by default: its version, as `nx release version` computed it. */
export const DEFAULT_RELEASE_TAGS = ['{version}'];

export class ReleaseError extends Error {}

/** Where the version of a release came from (printed, so a wrong tag is easy to trace). */
export interface ReleaseVersion {
  version: string;
  source: string;
}

/**
 * The version to tag, first found of: the executor's `version` option; the version `nx release`
 * computed in this same run (it hands it to publish as `nxReleaseVersionData`, also under
 * `--dry-run`, when nothing is written yet); the `version` that `nx release version` wrote into
 * the project's package.json (a separate `nx release publish` step, e.g. on CI).
 */
export function releaseVersion(input: {
  option?: string;
  computed?: string | null;
  packageJson?: string;
  packageJsonPath: string;
  project: string;
}): ReleaseVersion {
  if (input.option) return { version: input.option, source: 'the "version" option' };
  if (input.computed) return { version: input.computed, source: 'nx release' };
  let version: unknown;
  if (input.packageJson !== undefined) {
    try {
      version = JSON.parse(input.packageJson).version;
    } catch {
      throw new ReleaseError(`${input.packageJsonPath} is not valid JSON — fix it, or give nx-release-publish of ${input.project} a "version" option.`);
    }
  }
  if (typeof version !== 'string' || version === '') {
    throw new ReleaseError(
      `No release version for ${input.project}: ${input.packageJsonPath} ${input.packageJson === undefined ? 'does not exist' : 'has no "version"'} — run nx release version first, or give nx-release-publish a "version" option.`
    );
  }
  return { version, source: input.packageJsonPath };
}

/**
 * Tag templates → tags: `{version}` (`1.2.0-rc.1`), `{major}`, `{minor}` (`1.2`), `{patch}`
 * (`1.2.0`, without prerelease). A semver `+build` part becomes `-build` (`+` is not allowed in tags).
 */
export function releaseTags(version: string, templates: readonly string[] = DEFAULT_RELEASE_TAGS): string[] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  const values: Record<string, string | undefined> = {
    version: version.replace(/\+/g, '-'),
    major: m?.[1],
    minor: m ? `${m[1]}.${m[2]}` : undefined,
    patch: m ? `${m[1]}.${m[2]}.${m[3]}` : undefined,
  };
  const tags = templates.map((template) =>
    template.replace(/\{(\w+)\}/g, (whole, key: string) => {
      if (!(key in values)) throw new ReleaseError(`Release tag "${template}" uses unknown placeholder ${whole} — use {version}, {major}, {minor} or {patch}.`);
      const value = values[key];
      if (value === undefined) throw new ReleaseError(`Release tag "${template}" needs a semver version but the release version is "${version}" — use {version} only.`);
      return value;
    })
  );
  for (const tag of tags) {
    try {
      assertTag(tag);
    } catch (error) {
      throw new ReleaseError((error as ImageRefError).message);
    }
  }
  return [...new Set(tags)];
}

/** One tag to point at the released image, by digest. */
export interface PublishStep {
  /** `registry/repo@sha256:…`, exactly the image the receipt names. */
  source: string;
  /** `registry/repo:1.2.0`. */
  target: string;
  tag: string;
}

/**
 * What `nx release publish` does for one project: point each release tag at the digest its
 * receipt recorded. Needs a pushed receipt — a tag made from a local image could be a
 * different image than the one that was built, tested and recorded.
 */
export function publishSteps(receipt: Pick<ImageReceipt, 'project' | 'image' | 'digest' | 'pushed'>, tags: string[], receiptPath: string): PublishStep[] {
  if (!receipt.pushed || !receipt.digest) {
    throw new ReleaseError(
      `The receipt of ${receipt.project} (${receiptPath}) records no pushed image — build and push it first (nx run ${receipt.project}:docker-build --push with a registry), then run nx release publish.`
    );
  }
  if (!parseImageRef(receipt.image).registry) {
    throw new ReleaseError(`The image of ${receipt.project} (${receipt.image}) names no registry — set the registry option or NX_DOCKER_REGISTRY, push it, then release.`);
  }
  return tags.map((tag) => ({ source: `${receipt.image}@${receipt.digest}`, target: `${receipt.image}:${tag}`, tag }));
}
