/** Default target names; users rename them through the plugin options. */
export const DEFAULT_BASE_TARGET = 'docker-base';
export const DEFAULT_SERVICE_TARGET = 'docker-service';
export const DEFAULT_BUILD_TARGET = 'docker-build';

/** The target `nx release publish` runs in every released project (its name is fixed by Nx). */
export const RELEASE_PUBLISH_TARGET = 'nx-release-publish';

/** Where `init` puts the shared base: its own project, so root-file changes never reach services. */
export const DEFAULT_BASE_DIR = 'docker/workspace-base';

/** Files that define a shared base image. */
export const DEFAULT_BASE_GLOB = '**/Dockerfile.base';

/** Files that define a service image (a base file never counts as a service). */
export const DEFAULT_SERVICE_GLOBS = [
  '**/Dockerfile',
  '**/Dockerfile.*',
  '**/*.dockerfile',
  '**/*.Dockerfile',
  '**/Containerfile',
];

/** Dockerfile-like names that are not Dockerfiles a project builds (templates, fixtures, ignore files). */
export const DEFAULT_EXCLUDE = [
  '**/node_modules/**',
  '**/files/**',
  '**/__fixtures__/**',
  '**/fixtures/**',
  '**/*.{dockerignore,md,txt,template,tmpl,tpl,ejs,hbs,j2,jinja,jinja2,bak,orig,swp,json,yml,yaml,sh,js,ts}',
];

/** The build argument through which a service receives its base image reference. */
export const BASE_IMAGE_ARG = 'BASE_IMAGE';

/** The build argument through which a service receives its dependency image (see planning/deps.ts). */
export const DEPS_IMAGE_ARG = 'DEPS_IMAGE';

/** Staged dependency-image contexts (only the files the deps stage copies), relative to the workspace root. */
export const DEPS_CONTEXTS_DIR = '.nx-docker-delta/deps-contexts';

/** Receipts (the cacheable outputs) live here, relative to the workspace root. */
export const RECEIPTS_DIR = 'dist/nx-docker-delta';

/** Staged per-service build contexts live here, relative to the workspace root. */
export const CONTEXTS_DIR = '.nx-docker-delta/contexts';

/** Environment variables that change what an image is or where it goes. */
export const ENV = {
  registry: 'NX_DOCKER_REGISTRY',
  cacheRegistry: 'NX_DOCKER_CACHE_REGISTRY',
  push: 'PUSH',
  pushLong: 'NX_DOCKER_PUSH',
  platform: 'NX_DOCKER_PLATFORM',
  dockerBin: 'NX_DOCKER_BIN',
  tags: 'NX_DOCKER_TAGS',
  insecureRegistries: 'NX_DOCKER_INSECURE_REGISTRIES',
  secrets: 'NX_DOCKER_SECRETS',
  ssh: 'NX_DOCKER_SSH',
  network: 'NX_DOCKER_NETWORK',
  assemble: 'NX_DOCKER_ASSEMBLE',
} as const;

/** Comment directive a Dockerfile may carry: `# nx-docker-delta: context=pruned name=node`. */
export const DIRECTIVE_PREFIX = 'nx-docker-delta:';

export const RECEIPT_SCHEMA_VERSION = 1;
