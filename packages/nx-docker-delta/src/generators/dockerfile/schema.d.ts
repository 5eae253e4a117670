export interface DockerfileGeneratorSchema {
  /** Nx project (or umbrella app) to containerize, e.g. `api`. */
  project: string;
  /** `host` packages the Nx build output (default); `docker` compiles inside the image build. */
  compile?: 'host' | 'docker';
  /** Runtime flavour; defaults to the Dockerfile.base flavour. */
  runtime?: 'alpine' | 'debian-slim' | 'distroless';
  /** Default of `ARG RUNTIME_IMAGE`, e.g. `node:22-alpine`. */
  runtimeImage?: string;
  /** Listening port, e.g. `3000`. */
  port?: number;
  /** Health path, e.g. `/health` (needs port). */
  healthPath?: string;
  /** Entry file inside the build output, e.g. `main.js`. */
  main?: string;
  /** Workspace-relative build output directory, e.g. `dist/apps/api`. */
  buildOutputPath?: string;
  /** Default of `ARG BASE_IMAGE`, e.g. `workspace-base`. */
  baseImage?: string;
  /** compile=docker: roots of workspace projects the build needs. */
  workspaceDeps?: string[];
  /** Overwrite an existing, different Dockerfile. Default false. */
  force?: boolean;
  /** Skip formatting. Default false. */
  skipFormat?: boolean;
}
