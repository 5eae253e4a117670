/**
 * Jest globalSetup of the e2e project: starts a throw-away Verdaccio on a free
 * port and publishes the built nx-docker-delta into it (tools/e2e/local-registry.ts).
 * The suite reads what it needs from the environment:
 *   NXDD_E2E_NPM_REGISTRY     the registry URL (pass it with --registry)
 *   NPM_CONFIG_USERCONFIG     a temporary npm user config (the real ~/.npmrc is never written)
 *   NXDD_E2E_PLUGIN_VERSION   the published version (dist-tag `e2e`)
 *   NXDD_E2E_RUN_DIR          the run's temporary folder (removed by globalTeardown)
 * With NXDD_SKIP_DOCKER=1 (never under CI=true) nothing is started and the suite skips visibly.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { publishStaged, startLocalRegistry } from '../e2e/local-registry';
import { killGroup } from '../e2e/process';
import { skipReason } from '../e2e/skip';

export default async () => {
  const skip = skipReason(process.env);
  if (skip) return;

  const repoRoot = resolve(__dirname, '../..');
  const packageDir = join(repoRoot, 'packages/nx-docker-delta');
  if (!existsSync(join(packageDir, 'dist/index.js'))) {
    throw new Error('packages/nx-docker-delta/dist is missing — run `npx nx run nx-docker-delta:build` (the e2e target depends on it).');
  }
  const runDir = mkdtempSync(join(tmpdir(), 'nxdd-e2e-'));
  const baseEnv = { ...process.env };
  const registry = await startLocalRegistry({ dir: join(runDir, 'verdaccio'), repoRoot, env: baseEnv }).catch((error) => {
    rmSync(runDir, { recursive: true, force: true });
    throw error;
  });
  // If jest dies without running globalTeardown, Verdaccio must not outlive it.
  process.once('exit', () => killGroup(registry.pid, 'SIGKILL'));
  globalThis.__NXDD_E2E__ = { registry, runDir };

  const { version: sourceVersion } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const version = `${sourceVersion}-e2e.${Date.now()}`;
  try {
    await publishStaged({ packageDir, registry, stageDir: join(runDir, 'publish-stage'), version, tag: 'e2e', env: baseEnv });
  } catch (error) {
    await registry.stop();
    rmSync(runDir, { recursive: true, force: true });
    globalThis.__NXDD_E2E__ = undefined;
    throw error;
  }
  process.env.NXDD_E2E_NPM_REGISTRY = registry.url;
  process.env.NPM_CONFIG_USERCONFIG = registry.userconfig;
  process.env.NXDD_E2E_PLUGIN_VERSION = version;
  process.env.NXDD_E2E_RUN_DIR = runDir;
  process.stderr.write(`\n[e2e] Verdaccio on ${registry.url} (pid ${registry.pid}); published nx-docker-delta@${version}; run dir ${runDir}\n`);
};
