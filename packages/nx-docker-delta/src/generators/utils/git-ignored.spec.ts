import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tree } from '@nx/devkit';
import { gitIgnored, warnIfGitIgnored } from './git-ignored';
import { warningsOf } from '../../context/testing/warnings';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'nxdd-git-ignored-'));
  spawnSync('git', ['init', '-q'], { cwd: root });
  // A real workspace's rule (seen on a pnpm Nx workspace): it hides every Dockerfile.<suffix>.
  writeFileSync(join(root, '.gitignore'), 'node_modules\nDockerfile.*\n');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('gitIgnored', () => {
  it('names the files the ignore rules hide (written or not yet) and the rule', () => {
    expect(gitIgnored(root, ['docker/workspace-base/Dockerfile.base', 'apps/api/Dockerfile', 'apps/api/Dockerfile.dockerignore'])).toEqual([
      { path: 'docker/workspace-base/Dockerfile.base', rule: '.gitignore:2:Dockerfile.*' },
      { path: 'apps/api/Dockerfile.dockerignore', rule: '.gitignore:2:Dockerfile.*' },
    ]);
  });

  it('reports nothing outside a git repository', () => {
    const plain = mkdtempSync(join(tmpdir(), 'nxdd-no-git-'));
    try {
      expect(gitIgnored(plain, ['Dockerfile.base'])).toEqual([]);
    } finally {
      rmSync(plain, { recursive: true, force: true });
    }
  });
});

describe('warnIfGitIgnored', () => {
  it('says which rule hides the file from Nx and how to let it through', async () => {
    const warnings = await warningsOf(() => warnIfGitIgnored({ root } as Tree, ['docker/workspace-base/Dockerfile.base', 'apps/api/Dockerfile']));
    expect(warnings).toEqual([
      'nx-docker-delta: docker/workspace-base/Dockerfile.base is ignored by .gitignore:2 (`Dockerfile.*`), so Nx does not see it and infers no target from it — add `!Dockerfile.base` on a line after that one (or narrow the pattern).',
    ]);
  });
});
