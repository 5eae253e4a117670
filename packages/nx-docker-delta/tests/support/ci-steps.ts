/**
 * Runs the shell steps of a GitHub Actions job (`run:`) or a GitLab CI job (`before_script:` +
 * `script:`) in order, in one local container with the job's environment — the part of a
 * pipeline that is ours. What a hosted runner does besides is not run and is listed in
 * `skipped`: GitHub `uses:` actions (the harness provides their effect: the workspace is
 * mounted with its full history, the image has Node, NX_BASE/NX_HEAD and the registry login
 * are given), and GitLab `services:` (the job talks to the host daemon through its socket).
 *
 * GitHub expressions `${{ … }}` are replaced from `expressions` (exact text inside the braces);
 * an expression the test did not give fails the run, so nothing is silently empty.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DOCKER } from './docker';

export interface ShellStep {
  name: string;
  script: string;
  env: Record<string, string>;
}

export interface JobPlan {
  env: Record<string, string>;
  steps: ShellStep[];
  skipped: string[];
}

const EXPR = /\$\{\{\s*(.*?)\s*\}\}/g;

function expand(value: unknown, expressions: Record<string, string>): string {
  return String(value).replace(EXPR, (_m, expr: string) => {
    if (!(expr in expressions)) throw new Error(`the test gave no value for the expression \${{ ${expr} }}`);
    return expressions[expr];
  });
}

function expandAll(env: Record<string, unknown> | undefined, expressions: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, expand(v, expressions)]));
}

/** The shell steps of one GitHub Actions job, with workflow + job + step env. */
export function githubJob(workflowYaml: string, job: string, expressions: Record<string, string>): JobPlan {
  const wf = parse(workflowYaml);
  const j = wf.jobs[job];
  const steps: ShellStep[] = [];
  const skipped: string[] = [];
  for (const [i, s] of (j.steps as Array<{ name?: string; uses?: string; run?: string; env?: Record<string, unknown>; if?: string }>).entries()) {
    if (s.uses) skipped.push(s.uses);
    else steps.push({ name: s.name ?? `step ${i + 1}`, script: expand(s.run, expressions), env: expandAll(s.env, expressions) });
  }
  return { env: { ...expandAll(wf.env, expressions), ...expandAll(j.env, expressions) }, steps, skipped };
}

/** `before_script` + `script` of one GitLab job, with global + job variables. */
export function gitlabJob(ciYaml: string, job: string): JobPlan {
  const ci = parse(ciYaml);
  const j = ci[job];
  const lines: string[] = [...(j.before_script ?? ci.default?.before_script ?? []), ...j.script];
  const vars = (v: Record<string, unknown> | undefined) => Object.fromEntries(Object.entries(v ?? {}).map(([k, x]) => [k, String(typeof x === 'object' && x ? (x as { value: unknown }).value : x)]));
  return {
    env: { ...vars(ci.variables), ...vars(j.variables) },
    // GitLab runs every line in one shell session, stopping at the first failing line.
    steps: lines.map((script, i) => ({ name: `line ${i + 1}`, script, env: {} })),
    skipped: (j.services ?? []).map((s: string | { name: string }) => `service ${typeof s === 'string' ? s : s.name}`),
  };
}

export interface JobRun {
  image: string;
  workspace: string;
  plan: JobPlan;
  /** Runner-provided variables (GITHUB_*, CI_*), then test overrides (win over the job's env). */
  runnerEnv: Record<string, string>;
  overrides?: Record<string, string>;
  mounts?: string[];
  /** `github`: each step its own `bash -eo pipefail`, $GITHUB_ENV applied between steps; `gitlab`: one `bash -e` session. */
  style: 'github' | 'gitlab';
}

export function runJob(run: JobRun): { status: number; output: string; githubEnv: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nxdd-ci-steps-'));
  try {
    writeFileSync(join(dir, 'github_env'), '');
    const script: string[] = ['set -e', 'cd /workspace'];
    run.plan.steps.forEach((step, i) => {
      writeFileSync(join(dir, `step-${i}.sh`), `${step.script}\n`);
      const exports = Object.entries(step.env).map(([k, v]) => `export ${k}=${JSON.stringify(v)}; `).join('');
      script.push(`echo "::: ${step.name.replace(/"/g, "'")}"`);
      if (run.style === 'github') {
        script.push(`( ${exports}bash --noprofile --norc -eo pipefail /ci-steps/step-${i}.sh )`);
        script.push('set -a; . "$GITHUB_ENV"; set +a');
      } else {
        script.push(`${exports}. /ci-steps/step-${i}.sh`);
      }
    });
    writeFileSync(join(dir, 'job.sh'), script.join('\n') + '\n');
    // GitLab expands variable references in variable values (`NX_DOCKER_REGISTRY: $CI_REGISTRY_IMAGE`).
    const jobEnv =
      run.style === 'gitlab'
        ? Object.fromEntries(Object.entries(run.plan.env).map(([k, v]) => [k, v.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (m, name: string) => run.runnerEnv[name] ?? run.plan.env[name] ?? m)]))
        : run.plan.env;
    const env = { ...run.runnerEnv, ...jobEnv, ...(run.overrides ?? {}), GITHUB_ENV: '/ci-steps/github_env' };
    const args = ['run', '--rm', '--network=host', '-v', `${run.workspace}:/workspace`, '-v', `${dir}:/ci-steps`, '-v', '/var/run/docker.sock:/var/run/docker.sock'];
    for (const m of run.mounts ?? []) args.push('-v', m);
    for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
    args.push('--entrypoint', 'bash', run.image, '/ci-steps/job.sh');
    const result = spawnSync(DOCKER, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    return { status: result.status ?? 1, output: `${result.stdout ?? ''}${result.stderr ?? ''}`, githubEnv: readFileSync(join(dir, 'github_env'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
