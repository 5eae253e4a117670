import type { BuildInputOptions, ImageOptions } from '../../builds/settings';
import type { BaseSpec } from '../../planning/targets';

export interface BaseExecutorSchema extends ImageOptions, BuildInputOptions {
  /** The bases this project owns (inferred from its Dockerfile.base files). */
  bases: BaseSpec[];
  /** Re-resolve upstream digests first and rewrite the pins when one moved, e.g. `true`. */
  refresh?: boolean;
  /** Build args passed to every base of this project, e.g. `{ "NODE_VERSION": "20" }`. */
  buildArgs?: Record<string, string>;
}
