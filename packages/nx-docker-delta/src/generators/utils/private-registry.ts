/** What users with a private registry need to know, in one line (init and dockerfile print it). */
export const PRIVATE_REGISTRY_NOTE =
  'nx-docker-delta: installs read your root .npmrc / .yarnrc.yml as a BuildKit secret (${VAR} tokens from the environment, e.g. NPM_TOKEN) — never copied into an image.';

