import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SUPPORTED_NX_RANGE, unsupportedNxMessage } from './nx-version';

describe('unsupportedNxMessage', () => {
  test.each(['20.0.0', '20.8.4', '21.6.11', '22.7.8', '23.2.1', '23.3.0-beta.1', undefined, 'garbage'])('%s is accepted', (version) => {
    expect(unsupportedNxMessage(version)).toBeUndefined();
  });

  it('tells an Nx 19 workspace to upgrade, in one sentence', () => {
    expect(unsupportedNxMessage('19.8.4')).toBe(
      'nx-docker-delta supports Nx 20–23 but this workspace runs Nx 19.8.4, so it infers no Docker targets — upgrade the workspace to Nx 20 or newer (nx migrate 20).'
    );
  });

  it('tells an Nx 24 workspace what to do', () => {
    expect(unsupportedNxMessage('24.0.6')).toBe(
      'nx-docker-delta supports Nx 20–23 but this workspace runs Nx 24.0.6, so it infers no Docker targets — stay on Nx 23 or update nx-docker-delta to a release that supports Nx 24.'
    );
  });

  it('matches the peer ranges in package.json, and @nx/devkit is a peer, never a hard dependency', () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8'));
    expect(manifest.peerDependencies).toMatchObject({ nx: SUPPORTED_NX_RANGE, '@nx/devkit': SUPPORTED_NX_RANGE });
    expect(manifest.dependencies['@nx/devkit']).toBeUndefined();
  });
});
