/**
 * Whether the Docker e2e suite may skip. Locally NXDD_SKIP_DOCKER=1 skips it
 * with a banner; under CI=true skipping is an error, never a silent pass.
 */
export function skipReason(env: NodeJS.ProcessEnv): string | undefined {
  if (env.NXDD_SKIP_DOCKER !== '1') return undefined;
  if (/^(1|true)$/i.test(env.CI ?? '')) {
    throw new Error('NXDD_SKIP_DOCKER=1 is not allowed with CI=true: CI must run the e2e suite — unset it and provide Docker (tools/docker-env/).');
  }
  return 'NXDD_SKIP_DOCKER=1 was set';
}

export function skipBanner(reason: string): string {
  const line = '#'.repeat(78);
  return `\n${line}\n#\n#   E2E SUITE SKIPPED: ${reason}\n#   (Docker is required; under CI=true this is a failure.)\n#\n${line}\n`;
}
