import type { ImageOptions } from '../../builds/settings';

export interface VerifyExecutorSchema extends ImageOptions {
  /** Targets of this project whose images must be available, e.g. `["docker-service"]`. */
  targets: string[];
}
