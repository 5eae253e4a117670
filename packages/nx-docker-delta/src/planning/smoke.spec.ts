import { smokePort, smokeVerdict } from './smoke';

test.each([
  [[], undefined, undefined],
  [['3000/tcp'], undefined, 3000],
  [['8080/tcp', '3000/tcp', '53/udp'], undefined, 3000],
  [['53/udp'], undefined, undefined],
  [['3000/tcp'], 9000, 9000],
  [[], 4000, 4000],
])('smokePort(%j, %s) → %s', (exposed, requested, expected) => {
  expect(smokePort(exposed, requested)).toBe(expected);
});

describe('smokeVerdict', () => {
  const ctx = { project: 'api', ref: 'api:nx-1', port: 3000, timeoutS: 30 };
  it('passes when the service listens or exits 0', () => {
    expect(smokeVerdict({ kind: 'listening', port: 3000, afterMs: 1234 }, ctx)).toEqual({ ok: true, line: '✔ start check: api listens on port 3000 after 1.2s' });
    expect(smokeVerdict({ kind: 'exited', code: 0, afterMs: 100 }, ctx)).toEqual({ ok: true, line: '✔ start check: api ran and exited 0 after 0.1s' });
  });
  it('fails a crash at start with the exit code and the fix', () => {
    expect(smokeVerdict({ kind: 'exited', code: 1, afterMs: 400 }, ctx)).toEqual({
      ok: false,
      message:
        'Start check of api:nx-1 failed: the container exited 1 after 0.4s (its last log lines are above) — fix the crash; "Cannot find module" means the image lacks a package its code loads.',
    });
  });
  it('fails a service that never listens, but passes one without a port that keeps running', () => {
    expect(smokeVerdict({ kind: 'running', afterMs: 30000 }, ctx)).toMatchObject({ ok: false, message: expect.stringMatching(/nothing listened on port 3000 within 30s/) });
    expect(smokeVerdict({ kind: 'running', afterMs: 30000 }, { ...ctx, port: undefined })).toMatchObject({ ok: true });
  });
});
