import { canonicalSourceUrl } from './source-url';

describe('canonicalSourceUrl', () => {
  test.each([
    ['git@github.com:o/r.git', 'https://github.com/o/r'],
    ['github.com:o/r', 'https://github.com/o/r'],
    ['ssh://git@github.com/o/r.git', 'https://github.com/o/r'],
    ['ssh://git@bitbucket.example.com:7999/team/r.git', 'https://bitbucket.example.com/team/r'],
    ['git+ssh://git@github.com/o/r.git', 'https://github.com/o/r'],
    ['https://github.com/o/r.git', 'https://github.com/o/r'],
    ['https://github.com/o/r/', 'https://github.com/o/r'],
    ['https://gitlab-ci-token:glcbt-SECRET@gitlab.com/group/sub/r.git', 'https://gitlab.com/group/sub/r'],
    ['https://x-access-token:ghs_SECRET@github.com/o/r', 'https://github.com/o/r'],
    ['https://oauth2:SECRET@git.example.com:8443/o/r.git', 'https://git.example.com:8443/o/r'],
    ['http://user@127.0.0.1:3000/o/r.git', 'http://127.0.0.1:3000/o/r'],
    ['git://github.com/o/r.git', 'https://github.com/o/r'],
    ['/srv/git/r.git', undefined],
    ['file:///srv/git/r.git', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%s → %s', (remote, expected) => {
    expect(canonicalSourceUrl(remote)).toBe(expected);
  });

  it('never keeps anything that was user-info', () => {
    expect(canonicalSourceUrl('https://u:p%40ss@host.example/o/r')).not.toMatch(/p%40ss|u:/);
  });
});
