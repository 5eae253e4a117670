/**
 * Jest globalTeardown of the e2e project: stops the Verdaccio that globalSetup
 * started (by its pid) and removes the run's temporary folder. Keep the folder
 * for debugging with NXDD_E2E_KEEP=1.
 */
import { rmSync } from 'node:fs';

export default async () => {
  const state = globalThis.__NXDD_E2E__;
  if (!state) return;
  globalThis.__NXDD_E2E__ = undefined;
  await state.registry.stop();
  if (process.env.NXDD_E2E_KEEP === '1') {
    process.stderr.write(`[e2e] NXDD_E2E_KEEP=1: kept ${state.runDir}\n`);
  } else {
    rmSync(state.runDir, { recursive: true, force: true });
  }
};
