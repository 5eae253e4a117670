import type { ReleasePublishOptions } from '../../builds/release';

export interface ReleasePublishExecutorSchema extends ReleasePublishOptions {
  /** Passed by `nx release publish`; the image tags need nothing from it. */
  firstRelease?: boolean;
  /** Passed by `nx release publish --verbose`. */
  verbose?: boolean;
}
