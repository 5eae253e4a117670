/**
 * Docker suite, the seed row end to end: an Elixir umbrella of three services (api, worker,
 * billing) on a shared in-umbrella app (core), adopted with `init` + `dockerfile` +
 * `ci --provider=cloudbuild`, run through the local Cloud Build execution
 * (tests/support/cloudbuild.ts) against a registry with htpasswd auth. The first build pushes
 * the base and the three releases; a change in worker pushes exactly worker; the base is untouched.
 *
 * What the adopting user adds by hand (Nx does not read mix.exs): a project.json per umbrella app
 * (services depend on core), `context: "."` for the services (the generated Elixir Dockerfile
 * copies the umbrella's root mix.exs), and the base's ARG defaults for this machine (no hex:
 * MIX_INSTALL_HEX=false, no build-essential); `init --baseImage` names the local Elixir image.
 */
import { type AuthRegistry, registryGet, startAuthRegistry } from '../support/htpasswd-registry';
import { buildStepImages, runCloudBuild } from '../support/cloudbuild';
import { docker, dockerOrThrow, dockerSuiteGate } from '../support/docker';
import { REPO_ROOT, TestWorkspace, ensurePluginBuilt } from '../support/workspace';

const SUITE = 'Cloud Build execution suite, Elixir umbrella (tests/docker/ci-cloudbuild-elixir.spec.ts)';
const NODE_STANDIN = 'node:20-bookworm-slim';
const ELIXIR_IMAGE = 'nxdd-test/elixir:1.14';
const skipped = dockerSuiteGate(SUITE, { images: [NODE_STANDIN, ELIXIR_IMAGE] });
const describeDocker = skipped ? describe.skip : describe;

const RUN = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const SERVICES = ['api', 'billing', 'worker'];
const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

const appMix = (mod: string, app: string, deps: string) => `defmodule ${mod}.MixProject do
  use Mix.Project

  def project do
    [
      app: :${app},
      version: "0.1.0",
      build_path: "../../_build",
      config_path: "../../config/config.exs",
      deps_path: "../../deps",
      lockfile: "../../mix.lock",
      elixir: "~> 1.14",
      deps: [${deps}]
    ]
  end

  def application, do: [extra_applications: [:logger]]
end
`;

const serviceModule = (mod: string, app: string, version: string) => `defmodule ${mod} do
  def hello, do: Core.greet("${app} ${version}")
end
`;

function umbrella(): Record<string, string> {
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'shop', version: '0.0.0', private: true }, null, 2),
    'nx.json': JSON.stringify({ namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] } }, null, 2),
    '.gitignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n_build\ndeps\n',
    'mix.exs': `defmodule Shop.MixProject do
  use Mix.Project

  def project do
    [
      apps_path: "apps",
      version: "0.1.0",
      start_permanent: Mix.env() == :prod,
      deps: [],
      releases: [
${SERVICES.map((s) => `        ${s}: [applications: [${s}: :permanent]]`).join(',\n')}
      ]
    ]
  end
end
`,
    'config/config.exs': 'import Config\n',
    'apps/core/mix.exs': appMix('Core', 'core', ''),
    'apps/core/lib/core.ex': 'defmodule Core do\n  def greet(who), do: "hello from #{who}"\nend\n',
    'apps/core/project.json': JSON.stringify({ name: 'core' }),
  };
  for (const s of SERVICES) {
    const mod = s[0].toUpperCase() + s.slice(1);
    files[`apps/${s}/mix.exs`] = appMix(mod, s, '{:core, in_umbrella: true}');
    files[`apps/${s}/lib/${s}.ex`] = serviceModule(mod, s, 'v1');
    files[`apps/${s}/project.json`] = JSON.stringify({ name: s, implicitDependencies: ['core'], targets: { 'docker-service': { options: { context: '.' } } } });
  }
  return files;
}

describeDocker('the seed row: an Elixir umbrella through the generated Cloud Build pipeline', () => {
  let reg: AuthRegistry;
  let ws: TestWorkspace;
  let stepImages: ReturnType<typeof buildStepImages>;
  const repo = (name: string) => `shop/images/${name}`;

  async function latest(): Promise<Record<string, string | undefined>> {
    const out: Record<string, string | undefined> = {};
    for (const name of ['workspace-base', ...SERVICES]) out[name] = (await registryGet(reg, `/v2/${repo(name)}/manifests/latest`, MANIFEST)).digest;
    return out;
  }

  function build(substitutions: Record<string, string>) {
    const steps = runCloudBuild({
      workspace: ws.root,
      config: 'cloudbuild.yaml',
      substitutions: { PROJECT_ID: 'shop', BRANCH_NAME: 'main', _REGISTRY_HOST: reg.address, _BUILDER_IMAGE: stepImages.builder, ...substitutions },
      images: stepImages.images,
      mounts: [`${REPO_ROOT}:${REPO_ROOT}:ro`],
    });
    const failed = steps.find((s) => s.status !== 0);
    if (failed) throw new Error(`step ${failed.id} failed:\n${failed.output.slice(-6000)}`);
    return steps;
  }

  beforeAll(async () => {
    ensurePluginBuilt();
    reg = await startAuthRegistry('oauth2accesstoken');
    ws = TestWorkspace.create(umbrella(), 'nxdd-cisim-elixir');
    for (const args of [
      ['g', 'nx-docker-delta:init', '--flavour=debian', `--baseImage=${ELIXIR_IMAGE}`],
      ...SERVICES.map((s) => ['g', 'nx-docker-delta:dockerfile', `--project=${s}`, '--runtime=debian-slim', `--runtimeImage=${NODE_STANDIN}`]),
      ['g', 'nx-docker-delta:ci', '--provider=cloudbuild', '--remoteCache=none', '--installCommand=npx nx --version'],
    ]) {
      const r = await ws.nx([...args, '--no-interactive']);
      if (r.code !== 0) throw new Error(`nx ${args.join(' ')}:\n${r.output}`);
    }
    // This machine has no hex and needs no build-essential: the user's edit of the generated base.
    const base = ws.read('docker/workspace-base/Dockerfile.base');
    const offline = base.replace(/^ARG OS_BUILD_DEPS=.*$/m, 'ARG OS_BUILD_DEPS=""').replace(/^ARG MIX_INSTALL_HEX=true$/m, 'ARG MIX_INSTALL_HEX=false');
    expect(offline).not.toBe(base);
    ws.write({ 'docker/workspace-base/Dockerfile.base': offline });
    ws.commit('adopt: init, dockerfile, ci --provider=cloudbuild');
    stepImages = buildStepImages({
      containerfile: ws.path('ci/builder/nx-builder.containerfile'),
      context: ws.path('ci/builder'),
      nodeImage: NODE_STANDIN,
      token: reg.password,
      tag: RUN,
    });
  }, 10 * 60_000);

  afterAll(() => {
    const ours = docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']).stdout.split('\n').filter((r) => reg && r.startsWith(`${reg.address}/`));
    for (const ref of [...(stepImages ? [stepImages.builder, stepImages.gcloud] : []), ...ours]) docker(['rmi', ref]);
    reg?.stop();
    ws?.dispose();
  });

  it('first build pushes the base and the three releases; a change in worker then pushes exactly worker', async () => {
    build({});
    const first = await latest();
    expect(Object.entries(first).filter(([, d]) => !d)).toEqual([]);
    // Built through the mounted socket, so the release is in this daemon's store under its registry name.
    const release = `${reg.address}/${repo('billing')}:latest`;
    expect(dockerOrThrow(['run', '--rm', release, '/app/bin/billing', 'eval', 'IO.puts(Billing.hello())']).trim()).toBe('hello from billing v1');

    const before = ws.git(['rev-parse', 'HEAD']);
    ws.write({ 'apps/worker/lib/worker.ex': serviceModule('Worker', 'worker', 'v2') });
    ws.commit('worker v2');
    build({ _BASE_SHA: before });
    const second = await latest();
    expect(Object.keys(second).filter((k) => second[k] !== first[k])).toEqual(['worker']);
  });
});
