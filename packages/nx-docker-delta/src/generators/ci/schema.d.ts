export type CiProvider = 'github-actions' | 'cloudbuild' | 'gitlab';

export interface CiGeneratorSchema {
  /** CI provider, e.g. `github-actions`. */
  provider: CiProvider;
  /** Branch whose builds push, e.g. `main`. */
  mainBranch?: string;
  /** NX_DOCKER_REGISTRY of the pipeline, e.g. `ghcr.io/acme`; default per provider. */
  registry?: string;
  /** Nx remote cache: `nx-cloud`, `self-hosted` or `none`. */
  remoteCache?: 'nx-cloud' | 'self-hosted' | 'none';
  /** Cron schedule of the base refresh, e.g. `0 4 1 * *`. */
  schedule?: string;
  /** Install command, e.g. `npm ci`; default from the lockfile. */
  installCommand?: string;
  /** Overwrite CI files that differ from the generated ones. */
  force?: boolean;
}
