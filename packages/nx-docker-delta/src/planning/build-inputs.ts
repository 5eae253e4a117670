/**
 * Private build inputs — BuildKit secrets, SSH agent forwarding, the build network — as plain
 * data. Pure: parsing and validation only; the engine turns them into files and argv.
 */

/** A secret as the user writes it (`id=npm,src=/run/secrets/npm`, `id=token,env=NPM_TOKEN`), parsed. */
export type SecretSpec = { id: string; src: string } | { id: string; env: string };

/** A secret the engine hands to BuildKit: a file, or text the engine writes to a 0600 temp file. */
export type BuildSecret = { id: string; src: string } | { id: string; text: string };

export class BuildInputSpecError extends Error {}

const ID = /^[A-Za-z0-9_.-]+$/;

/** Parses Docker's `--secret` syntax: `id=…` plus exactly one of `src=`/`source=` or `env=`. */
export function parseSecretSpec(spec: string): SecretSpec {
  const fields = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 1) throw invalidSecret(spec);
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const id = fields.get('id');
  const src = fields.get('src') ?? fields.get('source');
  const env = fields.get('env');
  const unknown = [...fields.keys()].filter((k) => !['id', 'src', 'source', 'env', 'type'].includes(k));
  if (!id || !ID.test(id) || unknown.length || (src === undefined) === (env === undefined) || src === '' || env === '') {
    throw invalidSecret(spec);
  }
  return src !== undefined ? { id, src } : { id, env: env as string };
}

function invalidSecret(spec: string): BuildInputSpecError {
  // The spec holds no secret value (only a file path or a variable name), so it can be quoted.
  return new BuildInputSpecError(
    `Invalid secret "${spec}": write id=<name>,src=<file> or id=<name>,env=<VARIABLE> — fix the secrets option or NX_DOCKER_SECRETS.`
  );
}

/** Docker's `--ssh` syntax: `default`, `<id>`, or `<id>=<socket or key>[,<more>]`. */
export function parseSshSpec(spec: string): string {
  const trimmed = spec.trim();
  if (!/^[A-Za-z0-9_.-]+(=[^\s]+)?$/.test(trimmed)) {
    throw new BuildInputSpecError(`Invalid ssh "${spec}": write default or <id>=<agent socket or key file> — fix the ssh option or NX_DOCKER_SSH.`);
  }
  return trimmed;
}

/** `--network` values a build accepts (Docker: default, host, none). */
export function parseNetwork(value: string): string {
  const trimmed = value.trim();
  if (!['default', 'host', 'none'].includes(trimmed)) {
    throw new BuildInputSpecError(`Invalid network "${value}": a build runs on default, host or none — fix the network option or NX_DOCKER_NETWORK.`);
  }
  return trimmed;
}

/** Several specs in one environment variable: separated by `;` or new lines (commas belong to a spec). */
export function splitSpecList(value: string | undefined): string[] {
  return (value ?? '').split(/[;\n]/).map((s) => s.trim()).filter(Boolean);
}

/**
 * Package-manager auth files the generated Dockerfiles mount as secrets, by secret id, with the
 * workspace-root files that feed them (first existing one wins).
 */
export const RC_SECRETS: ReadonlyArray<{ id: string; files: string[] }> = [
  { id: 'npmrc', files: ['.npmrc'] },
  { id: 'yarnrc', files: ['.yarnrc.yml', '.yarnrc'] },
];

export class EnvReferenceError extends Error {}

/**
 * Resolves `${VAR}` references the way npm and yarn do when they read the file themselves
 * (yarn's `${VAR:-default}` / `${VAR-default}` too), so the token CI exports reaches the build.
 * A reference to an unset variable without a default fails: npm would fail the same way, later
 * and inside the image build.
 */
export function expandEnvReferences(text: string, env: Record<string, string | undefined>, file: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g, (_match, name: string, op: string | undefined, fallback: string | undefined) => {
    const value = env[name];
    if (op === ':-') return value ? value : (fallback ?? '');
    if (op === '-') return value !== undefined ? value : (fallback ?? '');
    if (value === undefined) {
      throw new EnvReferenceError(`${file} uses \${${name}}, which is not set in this build's environment — export ${name} (in CI, from a secret) or remove that line.`);
    }
    return value;
  });
}
