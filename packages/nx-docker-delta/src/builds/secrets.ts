import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildSecret, expandEnvReferences, RC_SECRETS, SecretSpec } from '../planning/build-inputs';

/** A secret the build was told to use cannot be read. */
export class SecretError extends Error {}

/**
 * The workspace's own package-manager auth files as secrets (`npmrc`, `yarnrc`), `${VAR}`
 * references resolved from the build's environment. The text goes to the engine, which writes it
 * to a 0600 file outside the build context for the length of one build: it is never COPY'd,
 * never in a layer, never in a receipt.
 */
export function readRcSecrets(workspaceRoot: string, env: Record<string, string | undefined>): Array<{ id: string; text: string; file: string }> {
  const secrets: Array<{ id: string; text: string; file: string }> = [];
  for (const { id, files } of RC_SECRETS) {
    const file = files.find((f) => existsSync(join(workspaceRoot, f)));
    if (!file) continue;
    let text: string;
    try {
      text = expandEnvReferences(readFileSync(join(workspaceRoot, file), 'utf8'), env, file);
    } catch (error) {
      throw new SecretError((error as Error).message);
    }
    secrets.push({ id, text, file });
  }
  return secrets;
}

/** User secrets: files stay files; `env=` values are read now (classic docker 20.10 has no `env=`). */
export function resolveSecretSpecs(specs: SecretSpec[], env: Record<string, string | undefined>): BuildSecret[] {
  return specs.map((spec) => {
    if ('src' in spec) {
      if (!existsSync(spec.src)) {
        throw new SecretError(`Secret "${spec.id}" reads ${spec.src}, which does not exist — create it or fix the secrets option / NX_DOCKER_SECRETS.`);
      }
      return spec;
    }
    const value = env[spec.env];
    if (value === undefined) {
      throw new SecretError(`Secret "${spec.id}" reads $${spec.env}, which is not set — export ${spec.env} (in CI, from a secret) or drop that secret.`);
    }
    return { id: spec.id, text: value };
  });
}
