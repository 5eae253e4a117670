export interface MigrateDepsImageGeneratorSchema {
  /** Skip formatting the written files. Default false. */
  skipFormat?: boolean;
}
