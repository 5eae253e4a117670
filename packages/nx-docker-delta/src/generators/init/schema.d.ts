export interface InitGeneratorSchema {
  /** OS flavour of the base image, e.g. `alpine` or `debian`. Default `alpine`. */
  flavour?: 'alpine' | 'debian';
  /**
   * Folder of the shared base, e.g. `docker/workspace-base` (its own Nx project, the default) or
   * `.` (the workspace root, as in the seed; then root-file changes make every service affected).
   */
  baseDir?: string;
  /** Default of the base's FROM image ARG, e.g. `node:22-alpine`. */
  baseImage?: string;
  /** Overwrite an existing Dockerfile.base that differs. Default false. */
  force?: boolean;
  /** Skip formatting the written files. Default false. */
  skipFormat?: boolean;
}
