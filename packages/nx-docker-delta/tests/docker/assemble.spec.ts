/**
 * Docker suite for registry-side assembly (issue 8, item 2): in push mode a generated service
 * image is assembled in the registry — one deterministic app layer on the shared
 * runtime-with-dependencies image, config and manifest through the distribution API — without
 * `docker build` of the service image.
 *
 * Against a registry this suite starts (distribution 2.8 on 127.0.0.1:5151, filesystem storage
 * in a temp folder, so every blob the plugin writes can be counted), on a workspace of three
 * services: `a` (generated Dockerfile: assembled), `b` (generated, plus a RUN after the app
 * COPY: falls back), `c` (a hand-written Dockerfile: falls back). It proves: the assembled image
 * is what the receipt names and `docker pull` + `docker run` of it works; a code-only change
 * writes exactly one new layer blob plus config and manifest; a clean clone of the workspace on
 * an image store without any image of this run assembles the identical digest; each fallback
 * prints its one line and still builds; NX_DOCKER_ASSEMBLE=0 builds with docker. In local mode
 * (no push) the same layer and config go into the image store with `docker load`: no docker build
 * of the service, the files and config docker build makes, the same image ID when assembled again.
 * Only images and repositories of this run (its namespace) are removed.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, dockerSuiteGate, InspectedImage, inspectImage, localRefs, removeRefs } from '../support/docker';
import { NODE_STANDIN, generatedDockerfile, serverSource, serviceProjectJson, workspaceRootFiles } from '../support/node-services';
import { cacheHits, linesWith, ranTasks } from '../support/nx-output';
import { RunningRegistry, startDistribution } from '../support/registry-servers';
import { NxResult, TestWorkspace, ensurePluginBuilt } from '../support/workspace';

const SUITE = 'registry-side assembly Docker suite (tests/docker/assemble.spec.ts)';
const skipped = dockerSuiteGate(SUITE, { images: [NODE_STANDIN] });
const describeDocker = skipped ? describe.skip : describe;

const PORT = 5151;
const NS = `nxdd-asm-${Date.now().toString(36)}${process.pid.toString(36)}`;
const STREAM = '--output-style=stream';
const receiptPath = (svc: string) => `dist/nx-docker-delta/apps/${svc}/docker-service.json`;
const ASSEMBLED = /Assembling \S+ in the registry on /;
const LOCAL_ASSEMBLED = /Assembling \S+ locally on /;
const fallback = (svc: string) => new RegExp(`${svc}: Not assembled — building with docker build: `);
/** A BuildKit step of a service's runtime stage (`#12 [runtime 4/6] COPY --from=release …`). */
const RUNTIME_STEP = /\[runtime +\d+\/\d+\]/;

function fixtureFiles(): Record<string, string> {
  const files = workspaceRootFiles({ name: 'asm-fixture', dependencies: { ms: '2.1.3' }, imagePrefix: `${NS}/`, runLabel: NS });
  for (const svc of ['a', 'b']) {
    files[`apps/${svc}/project.json`] = serviceProjectJson(svc);
    files[`apps/${svc}/src/main.js`] = serverSource(svc, ['ms']);
  }
  files['apps/a/Dockerfile'] = generatedDockerfile('a');
  // A generated Dockerfile with a RUN after the app COPY: only docker knows what that RUN makes.
  files['apps/b/Dockerfile'] = generatedDockerfile('b').replace('COPY --from=release /release ./\n', 'COPY --from=release /release ./\nRUN echo built-by-docker > /tmp/marker\n');
  files['apps/c/project.json'] = JSON.stringify({ name: 'c', projectType: 'application' });
  files['apps/c/src/main.js'] = serverSource('c', []);
  files['apps/c/Dockerfile'] = `FROM ${NODE_STANDIN}\nWORKDIR /app\nCOPY src/main.js ./\nCMD ["node", "main.js"]\n`;
  return files;
}

/** sha256 digests of every blob the registry stores (layers, configs and manifests alike). */
function storedBlobs(storage: string): Set<string> {
  const root = join(storage, 'docker/registry/v2/blobs/sha256');
  const found = new Set<string>();
  let prefixes: string[] = [];
  try {
    prefixes = readdirSync(root);
  } catch {
    return found;
  }
  for (const prefix of prefixes) for (const digest of readdirSync(join(root, prefix))) found.add(`sha256:${digest}`);
  return found;
}

function ok(result: NxResult): NxResult {
  if (result.code !== 0) throw new Error(`nx ${result.args.join(' ')} exited ${result.code ?? result.signal}:\n${result.output}`);
  return result;
}

async function manifestOf(registry: string, repository: string, reference: string): Promise<{ digest: string; body: any }> {
  const response = await fetch(`http://${registry}/v2/${repository}/manifests/${reference}`, {
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  if (response.status !== 200) throw new Error(`GET ${repository}:${reference} answered HTTP ${response.status}`);
  return { digest: response.headers.get('docker-content-digest') as string, body: await response.json() };
}

const measured: string[] = [];

describeDocker('registry-side assembly on a real Docker engine and registry', () => {
  let ws: TestWorkspace;
  let clone: TestWorkspace | undefined;
  let registry: RunningRegistry;
  let scratch: string;
  let REGISTRY: string;
  let PUSH_ENV: Record<string, string>;
  const suiteStarted = Date.now();
  const receipt = (svc: string, w = ws) => w.readJson(receiptPath(svc));
  const run = async (label: string, args: string[], env?: Record<string, string>, w = ws) => {
    const r = ok(await w.nx([...args, STREAM], { env, timeoutMs: 6 * 60_000 }));
    measured.push(`${label}: ${(r.durationMs / 1000).toFixed(1)}s`);
    return r;
  };
  const storage = () => join(scratch, 'storage');

  beforeAll(async () => {
    ensurePluginBuilt();
    scratch = mkdtempSync(join(tmpdir(), 'nxdd-asm-registry-'));
    registry = await startDistribution({ dir: scratch, port: PORT, auth: [] });
    REGISTRY = registry.addr;
    PUSH_ENV = { PUSH: 'true', NX_DOCKER_REGISTRY: `${REGISTRY}/${NS}` };
    ws = TestWorkspace.create(fixtureFiles(), 'nxdd-asm');
  }, 5 * 60_000);

  afterAll(async () => {
    try {
      const leftovers = localRefs(NS);
      if (leftovers.length) removeRefs(leftovers);
    } finally {
      // The registry process is this suite's: stopped even when the daemon is gone.
      await registry?.stop();
      ws?.dispose();
      clone?.dispose();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    }
    // eslint-disable-next-line no-console
    console.log(`${SUITE}: measured\n  ${measured.join('\n  ')}\n  total ${((Date.now() - suiteStarted) / 1000).toFixed(0)}s`);
  }, 2 * 60_000);

  it('push mode assembles a generated service in the registry: no docker build of it, the receipt digest is the registry digest, the pulled image runs', async () => {
    const r = await run('first push-mode build', ['run', 'a:docker-build'], PUSH_ENV);
    measured.push(...linesWith(r.output, /Assembl|[Rr]untime with dependencies/).map((l) => `  ${l}`));
    expect(linesWith(r.output, ASSEMBLED)).toHaveLength(1);
    expect(linesWith(r.output, /Building runtime with dependencies /)).toHaveLength(1);
    // The runtime-with-dependencies image is a docker build; the service image itself is not.
    // (COPY steps only: BuildKit may name a shared FROM vertex after a concurrent build's stage.)
    expect(linesWith(r.output, /\[(release|build) +\d+\/\d+\] COPY|\[runtime +\d+\/\d+\] COPY --from=release/)).toEqual([]);
    const a = receipt('a');
    measured.push(`receipt of a: ${JSON.stringify({ digest: a.digest, imageId: a.imageId, assembled: a.assembled, phasesMs: a.phasesMs })}`);
    expect(a.assembled).toMatchObject({ runtimeOutcome: 'built', uploaded: 2, files: 2 });
    const repository = a.image.slice(REGISTRY.length + 1);
    const served = await manifestOf(REGISTRY, repository, a.ref.slice(a.image.length + 1));
    expect(served.digest).toBe(a.digest);
    expect(served.body.config.digest).toBe(a.imageId);
    expect(served.body.layers.at(-1).digest).toBe(a.assembled.layer);
    expect((await manifestOf(REGISTRY, repository, 'latest')).digest).toBe(a.digest);
    expect(a.phasesMs).toEqual(expect.objectContaining({ assemble: expect.any(Number), upload: expect.any(Number) }));
    // docker-build of the same run trusts what docker-service just put in the registry.
    expect(linesWith(r.output, /✔ a: .* was built and checked earlier in this run \(assembled in the registry\)/)).toHaveLength(1);

    expect(inspectImage(a.ref)).toBeUndefined();
    const pulled = docker(['pull', a.ref]);
    expect(pulled.status).toBe(0);
    expect(inspectImage(a.ref)?.Id).toBe(a.imageId);
    const ran = docker(['run', '--rm', a.ref]);
    expect(ran.stdout.trim()).toBe('{"service":"a","revision":1}');
    const whoami = docker(['run', '--rm', a.ref, 'node', '-e', "require('ms'); console.log(process.getuid(), process.cwd(), process.env.NODE_ENV)"]);
    expect(whoami.stdout.trim()).toBe('1000 /app production');
    const files = docker(['run', '--rm', a.ref, 'ls', '-ln', '/app']);
    expect(files.stdout).toMatch(/-rw-r--r-- +1 0 +0 .* main\.js/);
  });

  it('a code-only change writes exactly one new layer blob plus config and manifest to the registry', async () => {
    const before = receipt('a');
    const blobs = storedBlobs(storage());
    ws.write({ 'apps/a/src/main.js': serverSource('a', ['ms'], 2) });
    ws.commit('a: revision 2');
    const r = await run('code-only change in a (assembled)', ['run', 'a:docker-build'], PUSH_ENV);
    const after = receipt('a');
    expect(after.ref).not.toBe(before.ref);
    expect(after.assembled).toMatchObject({ runtime: before.assembled.runtime, runtimeOutcome: 'found', uploaded: 2 });
    expect(linesWith(r.output, /Building runtime with dependencies /)).toEqual([]);
    expect(linesWith(r.output, RUNTIME_STEP)).toEqual([]);
    const added = [...storedBlobs(storage())].filter((d) => !blobs.has(d)).sort();
    expect(added).toEqual([after.assembled.layer, after.imageId, after.digest].sort());
    measured.push(`new blobs after a code-only change: ${added.length} (layer ${after.assembled.layer.slice(7, 19)}, config ${after.imageId.slice(7, 19)}, manifest ${after.digest.slice(7, 19)})`);
    const pulled = docker(['pull', after.ref]);
    expect(pulled.status).toBe(0);
    expect(docker(['run', '--rm', after.ref]).stdout.trim()).toBe('{"service":"a","revision":2}');
  });

  it('a clean clone on an image store without any image of this run assembles the identical digest', async () => {
    const first = receipt('a');
    removeRefs(localRefs(NS));
    expect(localRefs(NS)).toEqual([]);
    clone = ws.clone('nxdd-asm-clone');
    const r = await run('clean clone, empty image store (assembled)', ['run', 'a:docker-build'], PUSH_ENV, clone);
    const second = receipt('a', clone);
    expect(second.ref).toBe(first.ref);
    expect(second.assembled.runtimeOutcome).toBe('found');
    expect(second.digest).toBe(first.digest);
    expect(second.imageId).toBe(first.imageId);
    expect(second.assembled.uploaded).toBe(0);
    measured.push(`digest in the first workspace ${first.digest}, in the clean clone ${second.digest}`);
    expect(linesWith(r.output, ASSEMBLED)).toHaveLength(1);

    // Another nx run: docker-service is an Nx cache hit, docker-build finds the image in the registry only.
    const again = await run('clean clone again (Nx cache hit)', ['run', 'a:docker-build'], PUSH_ENV, clone);
    expect(cacheHits(again.output)).toContain('a:docker-service');
    expect(ranTasks(again.output)).toContain('a:docker-build');
    expect(linesWith(again.output, /✔ a: \S+ is in the registry \(assembled in the registry\)/)).toHaveLength(1);

    // --smoke (an option of the task, so a new content tag) needs a local image: it pulls the assembled one first.
    const smoke = await run('clean clone --smoke', ['run', 'a:docker-build', '--smoke'], PUSH_ENV, clone);
    expect(linesWith(smoke.output, ASSEMBLED)).toHaveLength(1);
    expect(linesWith(smoke.output, /✔ start check: a ran and exited 0/)).toHaveLength(1);
  });

  it('every fallback prints its one reason and still builds with docker', async () => {
    const b = await run('b: RUN after the app COPY (push)', ['run', 'b:docker-build'], PUSH_ENV);
    const bLines = linesWith(b.output, fallback('b'));
    expect(bLines).toHaveLength(1);
    expect(bLines[0]).toMatch(/line \d+: a RUN after the app COPY\.$/);
    expect(receipt('b').assembled).toBeUndefined();
    expect(receipt('b').digest).toMatch(/^sha256:/);
    expect(docker(['run', '--rm', receipt('b').ref, 'cat', '/tmp/marker']).stdout.trim()).toBe('built-by-docker');

    const c = await run('c: hand-written Dockerfile (push)', ['run', 'c:docker-build'], PUSH_ENV);
    expect(linesWith(c.output, fallback('c'))).toEqual([
      expect.stringMatching(/the Dockerfile was not generated by the plugin \(no `# nx-docker-delta: context=pruned` header\)\.$/),
    ]);
    expect(receipt('c').assembled).toBeUndefined();

    measured.push(...[b, c].flatMap((x) => linesWith(x.output, /Not assembled/)).map((l) => `  ${l}`));
    const off = await run('a: NX_DOCKER_ASSEMBLE=0 (push)', ['run', 'a:docker-build', '--skip-nx-cache'], { ...PUSH_ENV, NX_DOCKER_ASSEMBLE: '0' });
    expect(linesWith(off.output, ASSEMBLED)).toEqual([]);
    expect(linesWith(off.output, fallback('a'))).toEqual([]);
    expect(linesWith(off.output, RUNTIME_STEP).length).toBeGreaterThan(0);
    expect(receipt('a').assembled).toBeUndefined();
    expect(receipt('a').digest).toMatch(/^sha256:/);
  });

  it('local mode assembles into the image store with docker load: no docker build of the service, the files and config docker build makes, the same image ID again', async () => {
    ws.write({ 'apps/a/src/main.js': serverSource('a', ['ms'], 3) });
    ws.commit('a: revision 3');
    const local = await run('a: local mode (assembled locally)', ['run', 'a:docker-build']);
    measured.push(...linesWith(local.output, /Assembl|[Rr]untime with dependencies/).map((l) => `  ${l}`));
    expect(linesWith(local.output, LOCAL_ASSEMBLED)).toHaveLength(1);
    expect(linesWith(local.output, /Not assembled/)).toEqual([]);
    expect(linesWith(local.output, /Building runtime with dependencies /)).toHaveLength(1);
    // The runtime-with-dependencies image is a docker build (once per dependency set); the service image is not.
    expect(linesWith(local.output, /\[(release|build) +\d+\/\d+\] COPY|\[runtime +\d+\/\d+\] COPY --from=release/)).toEqual([]);
    const a = receipt('a');
    measured.push(`local receipt of a: ${JSON.stringify({ imageId: a.imageId, assembled: a.assembled, phasesMs: a.phasesMs })}`);
    expect(a.assembled).toMatchObject({ local: true, uploaded: 0, files: 2 });
    expect(a.digest).toBeUndefined();
    expect(a.phasesMs).toEqual(expect.objectContaining({ assemble: expect.any(Number), load: expect.any(Number) }));
    expect(linesWith(local.output, /✔ a: .* was built and checked earlier in this run \(assembled locally\)/)).toHaveLength(1);
    const image = inspectImage(a.ref) as InspectedImage & { RootFS: { Layers: string[] }; Config: Record<string, unknown> };
    expect(image.Id).toBe(a.imageId);
    const runtime = inspectImage(a.assembled.runtime) as InspectedImage & { RootFS: { Layers: string[] } };
    expect(image.RootFS.Layers).toEqual([...runtime.RootFS.Layers, a.assembled.layer]);
    expect(docker(['run', '--rm', a.ref]).stdout.trim()).toBe('{"service":"a","revision":3}');
    // `docker history` shows the runtime image's own steps under the assembled one.
    const history = docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', a.ref]).stdout;
    expect(history).toMatch(/^COPY --from=release \/release \.\/ # nx-docker-delta assemble$/m);
    expect(history).toMatch(/^COPY \/app\/node_modules \.\/node_modules # buildkit$/m);

    // The same inputs built by docker (assembly off): the same files, owners and modes, the same config.
    const listing = (ref: string) =>
      docker(['run', '--rm', ref, 'find', '/app', '-path', '/app/node_modules', '-prune', '-o', '-printf', '%p %m %U:%G %s %l\n']).stdout.trim().split('\n').sort();
    const assembledFiles = listing(a.ref);
    const off = await run('a: local mode, NX_DOCKER_ASSEMBLE=0', ['run', 'a:docker-build', '--skip-nx-cache'], { NX_DOCKER_ASSEMBLE: '0' });
    expect(linesWith(off.output, RUNTIME_STEP).length).toBeGreaterThan(0);
    const built = receipt('a');
    expect(built.assembled).toBeUndefined();
    expect(built.imageId).not.toBe(a.imageId);
    expect(listing(built.ref)).toEqual(assembledFiles);
    const builtImage = inspectImage(built.ref) as InspectedImage & { RootFS: { Layers: string[] }; Config: Record<string, unknown> };
    for (const key of ['Env', 'Cmd', 'Entrypoint', 'User', 'WorkingDir', 'ExposedPorts', 'Healthcheck']) expect([key, image.Config[key]]).toEqual([key, builtImage.Config[key]]);
    // Plus the label naming the runtime-with-dependencies image it was assembled on.
    expect(image.Config['Labels']).toEqual({ ...(builtImage.Config['Labels'] as object), 'dev.nx-docker-delta.runtime': a.assembled.runtime.split(':').pop() });
    expect(builtImage.RootFS.Layers.slice(0, -1)).toEqual(runtime.RootFS.Layers);
    measured.push(`local mode: assembled ${a.imageId.slice(7, 19)} and docker-built ${built.imageId.slice(7, 19)} share every layer but the app layer, and list the same ${assembledFiles.length} app files`);

    // Assembled again on a store that no longer holds it: the same image ID.
    docker(['rmi', '-f', a.imageId]);
    const again = await run('a: local mode again (assembled)', ['run', 'a:docker-build', '--skip-nx-cache']);
    expect(linesWith(again.output, LOCAL_ASSEMBLED)).toHaveLength(1);
    expect(linesWith(again.output, /Building runtime with dependencies /)).toEqual([]);
    expect(linesWith(again.output, RUNTIME_STEP)).toEqual([]);
    expect(receipt('a').imageId).toBe(a.imageId);
    expect(inspectImage(a.ref)?.Id).toBe(a.imageId);

    // Through the docker CLI instead of the Engine API (NX_DOCKER_API=0), in another time zone
    // (`docker image history` prints times in it): the same image ID again.
    docker(['rmi', '-f', a.imageId]);
    const cli = await run('a: local mode through the docker CLI, TZ=Asia/Tokyo', ['run', 'a:docker-build', '--skip-nx-cache'], { NX_DOCKER_API: '0', TZ: 'Asia/Tokyo' });
    expect(linesWith(cli.output, LOCAL_ASSEMBLED)).toHaveLength(1);
    expect(receipt('a').imageId).toBe(a.imageId);
  });
});
