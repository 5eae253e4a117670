/**
 * Docker suite for `nx release` (issue 12): the version a release computes becomes an image
 * tag, pointed at the digest the service's receipt recorded — on a machine whose image store
 * no longer has the image, as on a CI agent that never built it.
 *
 * One temp workspace: a private package with a standalone Dockerfile on nxdd-test/busybox:1,
 * nx.json with a `release` group. Built and pushed to the test registry once, its local images
 * removed, then `nx release version` / `nx release publish` (with and without --dry-run) and
 * `nx release <version> --dry-run`. Assertions: registry tags and digests, receipts, printed lines.
 * The publish path talks to the registry API only, so it is the same in both client modes.
 */
import { dockerSuiteGate, localRefs, removeRefs } from '../support/docker';
import { errorSentences } from '../support/nx-output';
import { REGISTRY, deleteRepositoriesUnder, listTags, manifestDigest, registryProblem } from '../support/registry';
import { NxResult, TestWorkspace, ensurePluginBuilt } from '../support/workspace';

const SUITE = 'release Docker suite (tests/docker/release.spec.ts)';
const skipped = dockerSuiteGate(SUITE, { images: ['nxdd-test/busybox:1'] });
const describeDocker = skipped ? describe.skip : describe;

const NS = `nxdd-release-${Date.now().toString(36)}${process.pid.toString(36)}`;
const PROJECT = 'svc-r';
const RECEIPT = `dist/nx-docker-delta/apps/${PROJECT}/docker-service.json`;
const PUSH_ENV = { PUSH: 'true', NX_DOCKER_REGISTRY: `${REGISTRY}/${NS}` };
/** Path of the image inside the registry: registry namespace + image prefix + project. */
const REMOTE = `${NS}/${NS}/${PROJECT}`;
const IMAGE = `${REGISTRY}/${REMOTE}`;

function fixtureFiles(): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'release-fixture', version: '0.0.0', private: true }, null, 2),
    'nx.json': JSON.stringify(
      {
        plugins: [{ plugin: 'nx-docker-delta', options: { imagePrefix: `${NS}/` } }],
        namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] },
        release: {
          projects: [PROJECT],
          version: { currentVersionResolver: 'disk' },
          changelog: { workspaceChangelog: false, projectChangelogs: false },
        },
      },
      null,
      2
    ),
    '.gitignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n',
    [`apps/${PROJECT}/package.json`]: JSON.stringify({ name: PROJECT, version: '0.1.0', private: true }, null, 2),
    [`apps/${PROJECT}/main.txt`]: `release suite ${NS}\n`,
    [`apps/${PROJECT}/Dockerfile`]: 'FROM nxdd-test/busybox:1\nCOPY main.txt /main.txt\n',
  };
}

function ok(result: NxResult): NxResult {
  if (result.code !== 0) throw new Error(`nx ${result.args.join(' ')} exited ${result.code ?? result.signal}:\n${result.output}`);
  return result;
}

const lines = (output: string, pattern: RegExp) => output.split('\n').map((l) => l.trim()).filter((l) => pattern.test(l));

describeDocker('nx release publishes images by digest from their receipts', () => {
  let ws: TestWorkspace;
  let digest: string;

  beforeAll(async () => {
    const registry = await registryProblem();
    if (registry) throw new Error(`${SUITE} needs the test registry: ${registry} — run bash tools/docker-env/ensure-registry.sh (or npm test).`);
    ensurePluginBuilt();
    ws = TestWorkspace.create(fixtureFiles(), 'nxdd-release');
  }, 5 * 60_000);

  afterAll(async () => {
    const leftovers = localRefs(NS);
    if (leftovers.length) removeRefs(leftovers);
    await deleteRepositoriesUnder(NS);
    ws?.dispose();
  }, 2 * 60_000);

  it('infers nx-release-publish for the service (the workspace releases with nx release)', async () => {
    const output = ok(await ws.nx(['show', 'project', PROJECT, '--json'])).output;
    const shown = JSON.parse(output.slice(output.indexOf('{')));
    expect(shown.targets['nx-release-publish']).toMatchObject({ executor: 'nx-docker-delta:release-publish', cache: false });
  });

  it('builds and pushes once; the local image is then removed', async () => {
    ok(await ws.nx(['run', `${PROJECT}:docker-build`, '--output-style=stream'], { env: PUSH_ENV }));
    const receipt = ws.readJson(RECEIPT);
    expect(receipt).toMatchObject({ pushed: true, image: IMAGE, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    digest = receipt.digest;
    expect(await manifestDigest(REMOTE, receipt.tags[0])).toBe(digest);
    removeRefs(localRefs(NS));
    expect(localRefs(NS)).toEqual([]);
  });

  it('nx release version 1.2.0, then nx release publish --dry-run prints the tag and changes nothing', async () => {
    ok(await ws.nx(['release', 'version', '1.2.0']));
    expect(ws.readJson(`apps/${PROJECT}/package.json`).version).toBe('1.2.0');
    const dry = ok(await ws.nx(['release', 'publish', '--dry-run']));
    expect(lines(dry.output, /would tag|is .*@sha256/)).toEqual([
      `${PROJECT} 1.2.0 (from apps/${PROJECT}/package.json) is ${IMAGE}@${digest}`,
      `[dry-run] would tag ${IMAGE}:1.2.0 → ${digest}`,
    ]);
    expect(await listTags(REMOTE)).not.toContain('1.2.0');
  });

  it('nx release publish tags <image>:1.2.0 with the receipt digest, without the image on this machine', async () => {
    const published = ok(await ws.nx(['release', 'publish']));
    expect(lines(published.output, /^Tagged /)).toEqual([`Tagged ${IMAGE}:1.2.0 → ${digest} in the registry`]);
    expect(await manifestDigest(REMOTE, '1.2.0')).toBe(digest);
    expect(localRefs(NS)).toEqual([]);
    // Publishing again is harmless: the tag already names that digest.
    ok(await ws.nx(['release', 'publish']));
    expect(await manifestDigest(REMOTE, '1.2.0')).toBe(digest);
  });

  it('nx release 1.3.0 --dry-run hands the version it computes to publish', async () => {
    const dry = ok(await ws.nx(['release', '1.3.0', '--dry-run', '--yes']));
    expect(lines(dry.output, /would tag/)).toEqual([`[dry-run] would tag ${IMAGE}:1.3.0 → ${digest}`]);
    expect(ws.readJson(`apps/${PROJECT}/package.json`).version).toBe('1.2.0');
    expect(await listTags(REMOTE)).not.toContain('1.3.0');
  });

  it('a receipt of an image that was never pushed: one sentence, non-zero exit, no tag', async () => {
    ok(await ws.nx(['run', `${PROJECT}:docker-build`, '--output-style=stream']));
    expect(ws.readJson(RECEIPT)).toMatchObject({ pushed: false });
    const failed = await ws.nx(['release', 'publish']);
    expect(failed.code).not.toBe(0);
    expect(errorSentences(failed.output)).toContain(
      `The receipt of ${PROJECT} (${RECEIPT}) records no pushed image — build and push it first (nx run ${PROJECT}:docker-build --push with a registry), then run nx release publish.`
    );
  });
});
