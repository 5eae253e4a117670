/* eslint-disable */
// The Docker suite: real engine, real registry. Separate from the unit suite (jest.config.cts),
// run by the `test-docker` target, serially (one daemon, shared with other suites).
const { readFileSync } = require('fs');
const swcJestConfig = JSON.parse(readFileSync(`${__dirname}/.spec.swcrc`, 'utf-8'));
swcJestConfig.swcrc = false;

// Suites whose subject does not go through the host's docker client run in the first (classic
// BuildKit) pass only: podman is its own engine, and the CI simulations run their steps in
// containers with the client of the CI's builder image. Everything else runs in both modes.
const CLIENT_MODE_INDEPENDENT = ['podman', 'ci-cloudbuild', 'ci-cloudbuild-elixir', 'ci-steps'];
const secondPass = process.env.NXDD_TEST_BUILDER === 'buildx';

module.exports = {
  // Names the client mode in every PASS/FAIL line: the suites run once per mode (tools/test.mjs).
  displayName: `nx-docker-delta:docker${process.env.NXDD_TEST_BUILDER ? ` (${process.env.NXDD_TEST_BUILDER})` : ''}`,
  preset: '../../jest.preset.js',
  testEnvironment: 'node',
  transform: { '^.+\\.[tj]s$': ['@swc/jest', swcJestConfig] },
  moduleFileExtensions: ['ts', 'js', 'html'],
  testMatch: ['<rootDir>/tests/docker/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', ...(secondPass ? CLIENT_MODE_INDEPENDENT.map((name) => `/tests/docker/${name}\\.spec\\.ts$`) : [])],
  testTimeout: 15 * 60_000,
};
