import type { LocalRegistry } from '../e2e/local-registry';

declare global {
  // Shared between the e2e project's jest globalSetup and globalTeardown.
  // eslint-disable-next-line no-var
  var __NXDD_E2E__: { registry: LocalRegistry; runDir: string } | undefined;
}

export {};
