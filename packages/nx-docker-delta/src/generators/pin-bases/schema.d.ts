export interface PinBasesGeneratorSchema {
  /** Workspace-relative Dockerfiles to pin, e.g. `["docker/workspace-base/Dockerfile.base"]`; default: every Dockerfile outside node_modules. */
  files?: string[];
  /** docker client for pulls and local look-ups, e.g. `/usr/bin/docker`. Env: NX_DOCKER_BIN. */
  dockerBin?: string;
}
