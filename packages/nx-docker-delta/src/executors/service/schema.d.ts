export type { ServiceOptions as ServiceExecutorSchema } from '../../builds/service';
