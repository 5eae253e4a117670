import { ProgressParser, daemonLostDuringBuild, parseProgress } from './progress';

/** `docker buildx build --progress=plain` (docker driver) of a multi-stage service: only its last layer ran. */
const BUILDX_MULTI_STAGE = `#0 building with "default" instance using docker driver

#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 512B done
#1 DONE 0.0s

#2 [internal] load metadata for 127.0.0.1:5000/workspace-base:3f9a1c0d2b4e5f60
#2 DONE 0.0s

#3 [internal] load .dockerignore
#3 transferring context: 67B done
#3 DONE 0.0s

#4 [deps 1/4] FROM 127.0.0.1:5000/workspace-base:3f9a1c0d2b4e5f60
#4 DONE 0.0s

#5 [internal] load build context
#5 transferring context: 1.21kB done
#5 DONE 0.0s

#6 importing cache manifest from 127.0.0.1:5000/api:latest
#6 inferred cache manifest type: application/vnd.docker.distribution.manifest.v2+json done
#6 DONE 0.0s

#7 [deps 2/4] WORKDIR /app
#7 CACHED

#8 [deps 3/4] COPY package.json package-lock.json ./
#8 CACHED

#9 [deps 4/4] RUN npm ci --omit=dev
#9 CACHED

#10 [runtime 2/3] COPY --from=deps /app/node_modules ./node_modules
#10 CACHED

#11 [runtime 3/3] COPY dist/apps/api ./
#11 DONE 0.1s

#12 exporting to image
#12 exporting layers 0.1s done
#12 writing image sha256:8c1f0e6a44a1e2c6b33a39c0a2f7c38f1b4c97f0a3b1b2f5f6a1c0e9d8b7a6f5 done
#12 naming to 127.0.0.1:5000/api:nx-1a2b3c done
#12 naming to 127.0.0.1:5000/api:latest done
#12 DONE 0.1s
`;

/** Classic \`DOCKER_BUILDKIT=1 docker build\` (Docker 20.10) of a base from scratch, with a step whose output interleaves. */
const CLASSIC_FRESH = `#1 [internal] load build definition from Dockerfile.base
#1 sha256:0c5b6a4f0f6d2d1f2c8a7e5d4b3a291807f6e5d4c3b2a1908f7e6d5c4b3a2910
#1 transferring dockerfile: 301B done
#1 DONE 0.0s

#2 [internal] load .dockerignore
#2 sha256:9e8d7c6b5a49382716f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a098
#2 transferring context: 2B done
#2 DONE 0.0s

#3 [internal] load metadata for docker.io/nxdd-test/busybox:1
#3 DONE 0.0s

#4 [1/4] FROM docker.io/nxdd-test/busybox:1
#4 DONE 0.0s

#5 [internal] load build context
#5 transferring context: 94B done
#5 DONE 0.0s

#6 [2/4] WORKDIR /app
#6 DONE 0.0s

#7 [3/4] COPY package.json ./
#7 DONE 0.0s

#8 [4/4] RUN echo installing && sleep 1 && echo installed
#8 0.312 installing
#8 1.318 installed
#8 DONE 1.4s

#9 exporting to image
#9 exporting layers 0.0s done
#9 writing image sha256:1111111111111111111111111111111111111111111111111111111111111111 done
#9 naming to docker.io/library/workspace-base:3f9a1c0d2b4e5f60 done
#9 DONE 0.0s
`;

/** A failing RUN step: the log tail is what the user must see. */
const FAILING_RUN = `#0 building with "default" instance using docker driver

#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 289B done
#1 DONE 0.0s

#2 [internal] load metadata for docker.io/nxdd-test/node:20
#2 DONE 0.0s

#3 [build 1/3] FROM docker.io/nxdd-test/node:20
#3 DONE 0.0s

#4 [internal] load build context
#4 transferring context: 2.10kB done
#4 DONE 0.0s

#5 [build 2/3] COPY . .
#5 CACHED

#6 [build 3/3] RUN npm run build
#6 0.412 
#6 0.412 > api@1.0.0 build
#6 0.412 > tsc -p .
#7 [lint 2/2] RUN npm run lint
#7 0.388 > eslint .
#6 2.103 src/main.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.
#6 ERROR: process "/bin/sh -c npm run build" did not complete successfully: exit code: 2

#7 [lint 2/2] RUN npm run lint
#7 CANCELED
------
 > [build 3/3] RUN npm run build:
0.412 > api@1.0.0 build
0.412 > tsc -p .
2.103 src/main.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.
------
Dockerfile:9
--------------------
   7 |     FROM base AS build
   8 |     COPY . .
   9 | >>> RUN npm run build
--------------------
ERROR: failed to solve: process "/bin/sh -c npm run build" did not complete successfully: exit code: 2
`;

/** A COPY of a file the context does not have. */
const MISSING_COPY = `#5 [2/3] COPY missing.txt ./
#5 ERROR: failed to calculate checksum of ref 7f3c::q1w2e3: "/missing.txt": not found
------
 > [2/3] COPY missing.txt ./:
------
ERROR: failed to solve: failed to compute cache key: "/missing.txt": not found
`;

describe('parseProgress', () => {
  it('counts Dockerfile steps run vs CACHED across named stages, without FROM, [internal] or export vertices', () => {
    expect(parseProgress(BUILDX_MULTI_STAGE)).toEqual({
      total: 5,
      cached: 4,
      run: 1,
      steps: [
        { name: '[deps 2/4] WORKDIR /app', cached: true },
        { name: '[deps 3/4] COPY package.json package-lock.json ./', cached: true },
        { name: '[deps 4/4] RUN npm ci --omit=dev', cached: true },
        { name: '[runtime 2/3] COPY --from=deps /app/node_modules ./node_modules', cached: true },
        { name: '[runtime 3/3] COPY dist/apps/api ./', cached: false },
      ],
      failedStep: undefined,
    });
  });

  it('reads classic BuildKit output (sha256 lines, unnamed stage) where every step ran', () => {
    const stats = parseProgress(CLASSIC_FRESH);
    expect(stats).toMatchObject({ total: 3, cached: 0, run: 3, failedStep: undefined });
    expect(stats.steps.map((s) => s.name)).toEqual(['[2/4] WORKDIR /app', '[3/4] COPY package.json ./', '[4/4] RUN echo installing && sleep 1 && echo installed']);
  });

  it('reports the failing step with its own log lines (not the interleaved ones of other steps), timestamps stripped', () => {
    const stats = parseProgress(FAILING_RUN);
    expect(stats.failedStep).toEqual({
      name: '[build 3/3] RUN npm run build',
      log: ['> api@1.0.0 build', '> tsc -p .', "src/main.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'."],
    });
    expect(stats.steps).toEqual([
      { name: '[build 2/3] COPY . .', cached: true },
      { name: '[build 3/3] RUN npm run build', cached: false },
      { name: '[lint 2/2] RUN npm run lint', cached: false },
    ]);
  });

  it('counts the steps of stages with 10 or more steps, whose numbers BuildKit pads ([deps  4/10], [ 4/10]), and platform-prefixed names', () => {
    const padded = [
      '#4 [deps  1/10] FROM docker.io/library/node:20-bookworm-slim',
      '#4 DONE 0.0s',
      '#5 [deps  2/10] WORKDIR /app',
      '#5 CACHED',
      '#8 [deps  4/10] COPY package.json pnpm-lock.yaml ./',
      '#8 DONE 0.1s',
      '#15 [deps 10/10] RUN pnpm install --frozen-lockfile',
      '#15 DONE 54.3s',
      '#16 [ 9/12] RUN echo unnamed stage',
      '#16 DONE 0.2s',
      '#17 [linux/amd64 runtime 2/3] COPY --from=deps /app/node_modules ./node_modules',
      '#17 CACHED',
    ].join('\n');
    expect(parseProgress(padded)).toMatchObject({
      total: 5,
      cached: 2,
      run: 3,
      steps: [
        { name: '[deps  2/10] WORKDIR /app', cached: true },
        { name: '[deps  4/10] COPY package.json pnpm-lock.yaml ./', cached: false },
        { name: '[deps 10/10] RUN pnpm install --frozen-lockfile', cached: false },
        { name: '[ 9/12] RUN echo unnamed stage', cached: false },
        { name: '[linux/amd64 runtime 2/3] COPY --from=deps /app/node_modules ./node_modules', cached: true },
      ],
    });
  });

  it('reports a failing COPY with an empty log', () => {
    expect(parseProgress(MISSING_COPY).failedStep).toEqual({ name: '[2/3] COPY missing.txt ./', log: [] });
  });

  it('accepts CRLF line endings', () => {
    expect(parseProgress(BUILDX_MULTI_STAGE.replace(/\n/g, '\r\n'))).toEqual(parseProgress(BUILDX_MULTI_STAGE));
  });

  it('finds no steps in output that is not BuildKit progress', () => {
    expect(parseProgress('Sending build context to Docker daemon  2.048kB\nStep 1/2 : FROM busybox\n')).toEqual({
      total: 0,
      cached: 0,
      run: 0,
      steps: [],
      failedStep: undefined,
    });
  });
});

describe('ProgressParser', () => {
  it('gives the same result when fed line by line as the output streams', () => {
    const parser = new ProgressParser();
    for (const line of FAILING_RUN.split('\n')) parser.push(line);
    expect(parser.stats()).toEqual(parseProgress(FAILING_RUN));
  });

  it('keeps the first error when a later vertex errors too', () => {
    const parser = new ProgressParser();
    ['#3 [1/3] RUN a', '#4 [2/3] RUN b', '#3 ERROR: a failed', '#4 ERROR: b failed'].forEach((l) => parser.push(l));
    expect(parser.stats().failedStep?.name).toBe('[1/3] RUN a');
  });

  it('keeps only the last 200 log lines of a step', () => {
    const parser = new ProgressParser();
    parser.push('#6 [2/2] RUN seq 1 500');
    for (let i = 1; i <= 500; i++) parser.push(`#6 ${(i / 100).toFixed(3)} ${i}`);
    parser.push('#6 ERROR: process did not complete successfully: exit code: 1');
    const log = parser.stats().failedStep?.log ?? [];
    expect(log).toHaveLength(200);
    expect(log[0]).toBe('301');
    expect(log[199]).toBe('500');
  });
});

describe('podman build output', () => {
  // `podman build --layers` (podman 4.3.1) after a.txt changed: WORKDIR from cache, the rest ran.
  const CHANGED = `STEP 1/4: FROM nxdd-test/busybox:1
STEP 2/4: WORKDIR /app
--> Using cache c3e10e00031b2346bfe729d296546fa4949eb4bb0d7e0f78f89b24523ed8ee93
--> c3e10e00031
STEP 3/4: COPY a.txt ./
--> a15bb1453ab
STEP 4/4: RUN cat a.txt > b.txt
COMMIT localhost/h12b-pod/x:2
--> d4de5a2682a
Successfully tagged localhost/h12b-pod/x:2
d4de5a2682a852442720386ee2c3107991092dbea25a176b300cbf666994b31c`;

  it('counts steps run and cached like BuildKit output, FROM excluded', () => {
    expect(parseProgress(CHANGED)).toEqual({
      total: 3,
      cached: 1,
      run: 2,
      steps: [
        { name: '[2/4] WORKDIR /app', cached: true },
        { name: '[3/4] COPY a.txt ./', cached: false },
        { name: '[4/4] RUN cat a.txt > b.txt', cached: false },
      ],
      failedStep: undefined,
    });
  });

  it('names the failed step and keeps its log', () => {
    const failed = `STEP 1/3: FROM nxdd-test/busybox:1
STEP 2/3: WORKDIR /app
--> Using cache c3e10e00031b2346bfe729d296546fa4949eb4bb0d7e0f78f89b24523ed8ee93
--> c3e10e00031
STEP 3/3: RUN echo boom && false
boom
Error: building at STEP "RUN echo boom && false": while running runtime: exit status 1`;
    expect(parseProgress(failed).failedStep).toEqual({ name: '[3/3] RUN echo boom && false', log: ['boom'] });
  });
});

describe('daemonLostDuringBuild', () => {
  it('recognises the client lines printed when the daemon restarts mid-build (classic BuildKit and buildx)', () => {
    const tail = ['#16 [builder 1/1] RUN npx nx build api', '#16 sha256:7b2f8bf820a72fa1ec3416adb7059abd4f8410e6edf358c9872dac583868722f'];
    expect(daemonLostDuringBuild([...tail, 'unexpected EOF'])).toBe(true);
    expect(daemonLostDuringBuild([...tail, 'cannot write /tmp/nx-docker-delta-ybt5np/iid because server did not provide an image ID'])).toBe(true);
    expect(daemonLostDuringBuild(['ERROR: failed to dial gRPC: cannot connect to the Docker daemon. Is \'docker daemon\' running on this host?'])).toBe(true);
    expect(daemonLostDuringBuild(['Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?'])).toBe(true);
  });

  it('does not mistake a failing step for a lost daemon, even when the step printed the same words', () => {
    expect(daemonLostDuringBuild(FAILING_RUN.split('\n'))).toBe(false);
    expect(daemonLostDuringBuild(MISSING_COPY.split('\n'))).toBe(false);
    expect(daemonLostDuringBuild(['#9 3.21 unexpected EOF', '#9 ERROR: process "/bin/sh -c curl x" did not complete successfully: exit code: 1'])).toBe(false);
  });
});
