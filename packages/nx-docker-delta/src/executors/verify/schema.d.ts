export interface VerifyExecutorSchema {
  /** Targets of this project whose images must be available, e.g. `["docker-service"]`. */
  targets: string[];
}
