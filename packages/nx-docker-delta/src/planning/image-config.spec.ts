import { Instruction, readStages } from './assemble';
import { composeConfig, composeManifest, configBytes, configFromStore, durationNs, ImageConfigJson, loadManifest, utcTime } from './image-config';

/** The instructions of a one-stage Dockerfile body, as the planner reads them. */
const instructions = (body: string): Instruction[] => readStages(`FROM scratch\n${body}`).stages[0].body;

const PARENT: ImageConfigJson = {
  architecture: 'amd64',
  os: 'linux',
  created: '2026-11-30T10:00:00.123Z',
  config: { Env: ['PATH=/usr/bin', 'NODE_ENV=production'], Cmd: ['node'], WorkingDir: '/app', Labels: { maintainer: 'node' } },
  container: 'abc',
  container_config: { Cmd: ['/bin/sh'] },
  docker_version: '20.10.24',
  rootfs: { type: 'layers', diff_ids: ['sha256:1', 'sha256:2'] },
  history: [{ created_by: 'FROM node' }, { created_by: 'COPY node_modules' }],
};

describe('composeConfig', () => {
  it('appends the layer and applies the metadata instructions the way the Dockerfile builder records them', () => {
    const metadata = instructions(
      [
        'USER 1000:1000',
        'ENV PORT=3000 NODE_ENV="production mode"',
        'EXPOSE 3000 9229/UDP',
        'HEALTHCHECK --interval=30s --timeout=5s --start-period=1m30s --retries=3 \\',
        '  CMD ["node","-e","1"]',
        'LABEL team=payments "a b"="c d"',
        'VOLUME ["/data"]',
        'STOPSIGNAL SIGINT',
        'CMD ["node","main.js"]',
      ].join('\n')
    );
    const config = composeConfig(PARENT, { diffId: 'sha256:3', appCopy: 'COPY --from=release /release ./', metadata, labels: { 'dev.nx-docker-delta.project': 'api' } });
    expect(config).toMatchObject({
      created: '1980-01-01T00:00:00Z',
      rootfs: { type: 'layers', diff_ids: ['sha256:1', 'sha256:2', 'sha256:3'] },
      config: {
        User: '1000:1000',
        Env: ['PATH=/usr/bin', 'NODE_ENV=production mode', 'PORT=3000'],
        ExposedPorts: { '3000/tcp': {}, '9229/udp': {} },
        Healthcheck: { Test: ['CMD', 'node', '-e', '1'], Interval: 30e9, Timeout: 5e9, StartPeriod: 90e9, Retries: 3 },
        Labels: { maintainer: 'node', team: 'payments', 'a b': 'c d', 'dev.nx-docker-delta.project': 'api' },
        Volumes: { '/data': {} },
        StopSignal: 'SIGINT',
        Cmd: ['node', 'main.js'],
        WorkingDir: '/app',
      },
    });
    expect(config).not.toHaveProperty('container');
    expect(config).not.toHaveProperty('container_config');
    expect(config.history?.slice(2)).toEqual([
      expect.objectContaining({ created_by: 'COPY --from=release /release ./ # nx-docker-delta assemble', created: '1980-01-01T00:00:00Z' }),
      ...metadata.map(() => expect.objectContaining({ empty_layer: true })),
    ]);
  });

  test.each([
    ['CMD shell form', 'CMD node main.js', { Cmd: ['/bin/sh', '-c', 'node main.js'] }],
    ['ENTRYPOINT resets an inherited CMD', 'ENTRYPOINT ["tini","--"]', { Entrypoint: ['tini', '--'], Cmd: null }],
    ['ENTRYPOINT keeps a CMD set before it here', 'CMD ["main.js"]\nENTRYPOINT ["node"]', { Entrypoint: ['node'], Cmd: ['main.js'] }],
    ['HEALTHCHECK shell form', 'HEALTHCHECK CMD curl -f http://localhost/', { Healthcheck: { Test: ['CMD-SHELL', 'curl -f http://localhost/'] } }],
    ['HEALTHCHECK NONE', 'HEALTHCHECK NONE', { Healthcheck: { Test: ['NONE'] } }],
    ['legacy ENV form', 'ENV GREETING hello world', { Env: ['PATH=/usr/bin', 'NODE_ENV=production', 'GREETING=hello world'] }],
  ])('%s', (_label, body, expected) => {
    const config = composeConfig(PARENT, { diffId: 'sha256:3', appCopy: 'COPY x y', metadata: instructions(body), labels: {} });
    expect(config.config).toMatchObject(expected);
  });

  it('is a pure function: the same inputs give the same bytes', () => {
    const input = { diffId: 'sha256:3', appCopy: 'COPY --from=release /release ./', metadata: instructions('USER 1000\nCMD ["node","main.js"]'), labels: { a: '1' } };
    expect(configBytes(composeConfig(PARENT, input)).equals(configBytes(composeConfig(structuredClone(PARENT), input)))).toBe(true);
  });
});

describe('composeManifest', () => {
  const layers = [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 10, digest: 'sha256:l1' }];
  const config = { digest: 'sha256:c', size: 99 };
  const layer = { digest: 'sha256:app', size: 5 };

  it('keeps the Docker schema 2 family and appends a gzip layer', () => {
    const parent = { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1, digest: 'sha256:p' }, layers };
    const m = composeManifest(parent, '', { config, layer });
    expect(m.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(JSON.parse(m.body.toString())).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 99, digest: 'sha256:c' },
      layers: [...layers, { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 5, digest: 'sha256:app' }],
    });
  });

  it('keeps the OCI family (media type from the Content-Type when the manifest omits it)', () => {
    const parent = { schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: 1, digest: 'sha256:p' }, layers: [] };
    const m = composeManifest(parent, 'application/vnd.oci.image.manifest.v1+json', { config, layer });
    expect(JSON.parse(m.body.toString()).layers).toEqual([{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 5, digest: 'sha256:app' }]);
  });

  it('refuses an index (a multi-platform parent)', () => {
    expect(() => composeManifest({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] } as never, '', { config, layer })).toThrow(/not a single-platform image manifest/);
  });
});

test.each([
  ['30s', 30e9],
  ['1m30s', 90e9],
  ['500ms', 5e8],
  ['1.5h', 5400e9],
])('durationNs(%s)', (text, ns) => {
  expect(durationNs(text)).toBe(ns);
});

test('durationNs refuses what Go would refuse', () => {
  expect(() => durationNs('30')).toThrow(/not a duration/);
});

describe('configFromStore', () => {
  const inspect = {
    Architecture: 'amd64',
    Os: 'linux',
    Created: '2026-12-01T10:00:00.123456789Z',
    Config: { Env: ['PATH=/usr/bin'], Cmd: ['node'], WorkingDir: '/app' },
    RootFS: { Type: 'layers', Layers: ['sha256:a', 'sha256:b'] },
  };
  // Newest first, as docker prints it.
  const history = [
    { CreatedAt: '2026-12-01T10:00:00Z', CreatedBy: 'CMD ["node"]', Comment: 'buildkit.dockerfile.v0', Size: '0' },
    { CreatedAt: '2026-12-01T10:00:00Z', CreatedBy: 'COPY x ./ # buildkit', Comment: 'buildkit.dockerfile.v0', Size: '651644' },
    { CreatedAt: '2026-11-01T00:00:00Z', CreatedBy: '/bin/sh -c #(nop) ADD file:1 in / ', Size: '74000000' },
  ];

  it('gives history times in UTC, whatever time zone docker printed them in', () => {
    const tokyo = [{ ...history[0], CreatedAt: '2026-12-01T19:00:00+09:00' }, history[1], history[2]];
    expect(configFromStore(inspect, tokyo)).toEqual(configFromStore(inspect, history));
    expect(utcTime('2026-12-01T19:06:54+09:00')).toBe('2026-12-01T10:06:54Z');
    expect(utcTime('2026-12-01T10:06:54.5Z')).toBe('2026-12-01T10:06:54.500Z');
    expect(utcTime('not a time')).toBe('not a time');
  });

  it('carries the container config, the layers and the history (oldest first)', () => {
    const config = configFromStore(inspect, history);
    expect(config).toMatchObject({ architecture: 'amd64', os: 'linux', config: inspect.Config, rootfs: { type: 'layers', diff_ids: ['sha256:a', 'sha256:b'] } });
    expect(config.history).toEqual([
      { created: '2026-11-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:1 in / ' },
      { created: '2026-12-01T10:00:00Z', created_by: 'COPY x ./ # buildkit', comment: 'buildkit.dockerfile.v0' },
      { created: '2026-12-01T10:00:00Z', created_by: 'CMD ["node"]', comment: 'buildkit.dockerfile.v0', empty_layer: true },
    ]);
  });

  it('a WORKDIR or RUN of size 0 is still a layer; ENV, CMD and the like are not', () => {
    const config = configFromStore({ ...inspect, RootFS: { Layers: ['sha256:a', 'sha256:w', 'sha256:r', 'sha256:b'] } }, [
      { CreatedBy: 'CMD ["node"]', Size: '0' },
      { CreatedBy: 'COPY x ./ # buildkit', Size: '10' },
      { CreatedBy: 'RUN |2 A=1 B=2 /bin/sh -c true # buildkit', Size: '0' },
      { CreatedBy: 'ENV A=1', Size: '0' },
      { CreatedBy: 'WORKDIR /app', Size: '0' },
      { CreatedBy: '/bin/sh -c #(nop)  CMD ["bash"]', Size: '0' },
      { CreatedBy: '/bin/sh -c #(nop) ADD file:1 in / ', Size: '74000000' },
    ]);
    expect(config.history?.map((h) => !h.empty_layer)).toEqual([true, false, true, false, true, true, false]);
  });

  it('gives one entry per layer when the history does not add up to the layers', () => {
    const config = configFromStore(inspect, [history[0], { ...history[1], Size: '0', CreatedBy: 'LABEL x=1' }, history[2]]);
    expect(config.history).toEqual([
      expect.objectContaining({ created_by: 'parent layer 1 (its history did not match its layers)' }),
      expect.objectContaining({ created_by: 'parent layer 2 (its history did not match its layers)' }),
    ]);
    expect(config.rootfs?.diff_ids).toHaveLength(2);
  });

  it('a composed child of it names every layer of the parent plus its own', () => {
    const child = composeConfig(configFromStore(inspect, history), { diffId: 'sha256:c', appCopy: 'COPY --from=release /release ./', metadata: [], labels: {} });
    expect(child.rootfs?.diff_ids).toEqual(['sha256:a', 'sha256:b', 'sha256:c']);
    expect(child.history?.filter((h) => !h.empty_layer)).toHaveLength(3);
  });
});

describe('loadManifest', () => {
  it('names the new layer by its file and the held ones by a path docker never opens', () => {
    const m = JSON.parse(loadManifest({ configFile: 'c.json', diffIds: ['sha256:a', 'sha256:b'], layerFiles: { 'sha256:b': 'app/layer.tar' }, repoTags: ['api:nx-1', 'api:latest'] }).toString());
    expect(m).toEqual([{ Config: 'c.json', RepoTags: ['api:nx-1', 'api:latest'], Layers: ['a/layer.tar', 'app/layer.tar'] }]);
  });
});
