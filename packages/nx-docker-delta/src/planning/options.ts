import {
  DEFAULT_BASE_GLOB,
  DEFAULT_EXCLUDE,
  DEFAULT_BASE_TARGET,
  DEFAULT_BUILD_TARGET,
  DEFAULT_SERVICE_GLOBS,
  DEFAULT_SERVICE_TARGET,
} from '../constants';

/** Options of the `nx-docker-delta` plugin entry in nx.json. */
export interface NxDockerDeltaPluginOptions {
  /** Target that builds a project's shared base image(s). Default `docker-base`. */
  baseTargetName?: string;
  /** Target that builds a service image. Default `docker-service`. */
  serviceTargetName?: string;
  /** The entry point users run (`nx affected -t docker-build`). Default `docker-build`. */
  buildTargetName?: string;
  /** Glob of base Dockerfiles. Default `**\/Dockerfile.base`. */
  baseGlob?: string;
  /** Globs of service Dockerfiles. Default `Dockerfile`, `Dockerfile.*`, `*.dockerfile`, `Containerfile`. */
  serviceGlobs?: string[];
  /** The project target a service image packages the output of. Default `build`. */
  compileTargetName?: string;
  /** Prefix of every image repository, e.g. `acme/`. Default none. */
  imagePrefix?: string;
  /**
   * Globs of Dockerfiles to ignore. Default: generator templates (`**\/files/**`), test
   * fixtures (`**\/__fixtures__/**`, `**\/fixtures/**`) and files that only look like
   * Dockerfiles (`*.dockerignore`, `*.md`, `*.template`, `*.tmpl`, `*.ejs`, …).
   */
  exclude?: string[];
  /**
   * Dockerfiles the plugin cannot attribute by location or name, mapped to the project that builds
   * them: `{ "deploy/images/gateway.Dockerfile": "apps/gateway" }` (a project root, or a project
   * name found as `apps/<name>`, `packages/<name>`, `services/<name>`, `libs/<name>` or `<name>`).
   */
  dockerfileMap?: Record<string, string>;
}

export type NormalizedPluginOptions = Required<NxDockerDeltaPluginOptions> & {
  /**
   * The `docker-build` command's script as `nx:run-commands` runs it from the workspace root
   * (bin/docker-build.ts): workspace-relative where the plugin is installed in the workspace.
   */
  dockerBuildScript: string;
};

/** Where the `docker-build` script is when the plugin is installed in the workspace's node_modules. */
export const INSTALLED_DOCKER_BUILD_SCRIPT = 'node_modules/nx-docker-delta/dist/bin/docker-build.js';

export function normalizePluginOptions(options: NxDockerDeltaPluginOptions | undefined, dockerBuildScript = INSTALLED_DOCKER_BUILD_SCRIPT): NormalizedPluginOptions {
  return {
    dockerBuildScript,
    baseTargetName: options?.baseTargetName ?? DEFAULT_BASE_TARGET,
    serviceTargetName: options?.serviceTargetName ?? DEFAULT_SERVICE_TARGET,
    buildTargetName: options?.buildTargetName ?? DEFAULT_BUILD_TARGET,
    baseGlob: options?.baseGlob ?? DEFAULT_BASE_GLOB,
    serviceGlobs: options?.serviceGlobs ?? DEFAULT_SERVICE_GLOBS,
    compileTargetName: options?.compileTargetName ?? 'build',
    imagePrefix: options?.imagePrefix ?? '',
    exclude: options?.exclude ?? DEFAULT_EXCLUDE,
    dockerfileMap: options?.dockerfileMap ?? {},
  };
}
