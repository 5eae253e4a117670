import type { Tree } from '@nx/devkit';

/** What users with a private registry need to know, in one line (init and dockerfile print it). */
export const PRIVATE_REGISTRY_NOTE =
  'nx-docker-delta: installs read your root .npmrc / .yarnrc.yml as a BuildKit secret (${VAR} tokens from the environment, e.g. NPM_TOKEN) — never copied into an image.';

/**
 * The note when the workspace has a root `.npmrc` or `.yarnrc.yml` (the files installs read as a
 * secret); without either there is nothing to tell, and a per-service generator run stays quiet.
 */
export function privateRegistryNote(tree: Tree): string | undefined {
  return tree.exists('.npmrc') || tree.exists('.yarnrc.yml') ? PRIVATE_REGISTRY_NOTE : undefined;
}
