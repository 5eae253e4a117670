/**
 * Runs a cloudbuild.yaml here the way Cloud Build runs it: each step is a container of its
 * `name` image with the workspace bind-mounted at /workspace (the working directory), a
 * /builder/home kept between steps (HOME), the step's `env`, `secretEnv`, `entrypoint` and
 * `args`, and the host's Docker socket at /var/run/docker.sock. Substitutions follow Cloud
 * Build's rules: `$$` is a literal `$`, `$NAME` / `${NAME}` must be a built-in or a declared
 * `_NAME` (anything else fails the build, as with the default MUST_MATCH), and with
 * `options.dynamicSubstitutions` substitution values may use other substitutions.
 *
 * Deliberate differences, stated: steps run with `--network=host` (Cloud Build's `cloudbuild`
 * network) so a registry on 127.0.0.1 is reachable; public step images that cannot be pulled
 * here are replaced through `images` (a local stand-in per name); secrets come from `secrets`
 * instead of Secret Manager (each must be declared in `availableSecrets`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DOCKER } from './docker';

interface Step {
  id?: string;
  name: string;
  entrypoint?: string;
  args?: string[];
  env?: string[];
  secretEnv?: string[];
  dir?: string;
}

interface BuildConfig {
  steps: Step[];
  substitutions?: Record<string, string>;
  options?: { dynamicSubstitutions?: boolean; env?: string[] };
  availableSecrets?: { secretManager?: Array<{ versionName: string; env: string }> };
}

export interface CloudBuildRun {
  /** Workspace folder (becomes /workspace). */
  workspace: string;
  /** Config path relative to the workspace. */
  config: string;
  /** Built-ins (PROJECT_ID, BRANCH_NAME, …) and trigger overrides of `_` substitutions. */
  substitutions: Record<string, string>;
  /** Local stand-ins for step images that cannot be pulled here. */
  images?: Record<string, string>;
  secrets?: Record<string, string>;
  /** Extra bind mounts `host:container` (test artefacts such as a bare git remote). */
  mounts?: string[];
}

export interface StepResult {
  id: string;
  image: string;
  status: number;
  output: string;
}

const NAME = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Applies substitutions to one string, failing on an unknown one like Cloud Build does. */
export function substitute(text: string, values: Record<string, string>): string {
  return text.replace(NAME, (match, braced?: string, bare?: string) => {
    if (match === '$$') return '$';
    const key = (braced ?? bare) as string;
    if (!(key in values)) throw new Error(`invalid value for 'build.substitutions': key in the template "${key}" is not a valid built-in substitution or a declared _ substitution`);
    return values[key];
  });
}

/** The substitution table of a build: declared defaults, then the trigger's values, resolved. */
export function resolveSubstitutions(config: BuildConfig, given: Record<string, string>): Record<string, string> {
  const raw = { ...(config.substitutions ?? {}), ...given };
  if (!config.options?.dynamicSubstitutions) return raw;
  const resolved: Record<string, string> = {};
  const resolving = new Set<string>();
  const get = (key: string): string => {
    if (key in resolved) return resolved[key];
    if (resolving.has(key)) throw new Error(`substitution ${key} refers to itself`);
    resolving.add(key);
    const value = raw[key].replace(NAME, (match, braced?: string, bare?: string) => {
      if (match === '$$') return '$$';
      const k = (braced ?? bare) as string;
      if (!(k in raw)) throw new Error(`substitution ${key} uses unknown ${k}`);
      return get(k);
    });
    resolved[key] = value;
    return value;
  };
  for (const key of Object.keys(raw)) get(key);
  return resolved;
}

/** Runs every step in order; stops at the first failing step (as Cloud Build does). */
export function runCloudBuild(run: CloudBuildRun): StepResult[] {
  const config = parse(readFileSync(join(run.workspace, run.config), 'utf8')) as BuildConfig;
  const values = resolveSubstitutions(config, run.substitutions);
  const declaredSecrets = new Set((config.availableSecrets?.secretManager ?? []).map((s) => s.env));
  const home = mkdtempSync(join(tmpdir(), 'nxdd-cloudbuild-home-'));
  const results: StepResult[] = [];
  try {
    for (const [index, step] of config.steps.entries()) {
      const image = substitute(step.name, values);
      const args = ['run', '--rm', '--network=host', '-v', `${run.workspace}:/workspace`, '-v', `${home}:/builder/home`, '-v', '/var/run/docker.sock:/var/run/docker.sock'];
      for (const m of run.mounts ?? []) args.push('-v', m);
      args.push('-w', step.dir ? `/workspace/${substitute(step.dir, values)}` : '/workspace', '-e', 'HOME=/builder/home');
      for (const e of [...(config.options?.env ?? []), ...(step.env ?? [])]) args.push('-e', substitute(e, values));
      for (const s of step.secretEnv ?? []) {
        if (!declaredSecrets.has(s)) throw new Error(`step ${step.id ?? index}: secretEnv ${s} is not declared in availableSecrets`);
        if (!(s in (run.secrets ?? {}))) throw new Error(`step ${step.id ?? index}: no value given for secret ${s}`);
        args.push('-e', `${s}=${run.secrets?.[s]}`);
      }
      if (step.entrypoint) args.push('--entrypoint', substitute(step.entrypoint, values));
      args.push(run.images?.[image] ?? image, ...(step.args ?? []).map((a) => substitute(a, values)));
      const result = spawnSync(DOCKER, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
      const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
      results.push({ id: step.id ?? String(index), image, status: result.status ?? 1, output });
      if (result.status !== 0) break;
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  return results;
}

/**
 * The images the generated steps run in, made here: the builder from the generated containerfile
 * on a local Node stand-in, and a `cloud-sdk` stand-in whose `gcloud auth print-access-token`
 * prints `token` (the registry password of user `oauth2accesstoken`). Returns their tags and the
 * `images` map for runCloudBuild.
 */
export function buildStepImages(o: { containerfile: string; context: string; nodeImage: string; token: string; tag: string }): {
  builder: string;
  gcloud: string;
  images: Record<string, string>;
} {
  const builder = `nxdd-cisim-builder:${o.tag}`;
  const gcloud = `nxdd-cisim-gcloud:${o.tag}`;
  const b = spawnSync(DOCKER, ['build', '-q', '-f', o.containerfile, '--build-arg', `NODE_IMAGE=${o.nodeImage}`, '-t', builder, o.context], {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_BUILDKIT: '1' },
  });
  if (b.status !== 0) throw new Error(`builder image: ${(b.stderr ?? '').slice(-3000)}`);
  const dir = mkdtempSync(join(tmpdir(), 'nxdd-cisim-gcloud-'));
  try {
    writeFileSync(join(dir, 'gcloud'), `#!/bin/sh\n[ "$1 $2" = "auth print-access-token" ] && echo '${o.token}' && exit 0\necho "gcloud stand-in: only 'auth print-access-token'" >&2; exit 2\n`);
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${o.nodeImage}\nCOPY gcloud /usr/local/bin/gcloud\nRUN chmod +x /usr/local/bin/gcloud\n`);
    const g = spawnSync(DOCKER, ['build', '-q', '-t', gcloud, dir], { encoding: 'utf8', env: { ...process.env, DOCKER_BUILDKIT: '1' } });
    if (g.status !== 0) throw new Error(`gcloud stand-in: ${(g.stderr ?? '').slice(-3000)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { builder, gcloud, images: { 'gcr.io/google.com/cloudsdktool/cloud-sdk:slim': gcloud } };
}
