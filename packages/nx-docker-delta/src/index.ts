export { createNodes, createNodesV2, createDependencies } from './plugins/plugin';
export type { NxDockerDeltaPluginOptions } from './planning/options';
export type { ImageReceipt } from './planning/receipt';
