/** The Nx majors this plugin supports, as in package.json's peerDependencies. */
export const SUPPORTED_NX = { lowest: 20, highest: 23 } as const;

/** The peer range users see in package.json (kept in sync by a test). */
export const SUPPORTED_NX_RANGE = `>=${SUPPORTED_NX.lowest}.0.0 <${SUPPORTED_NX.highest + 1}.0.0`;

/**
 * The one sentence an unsupported workspace Nx gets, or undefined when `version` is supported
 * (or unknown: a workspace whose nx cannot be read is not refused on a guess).
 */
export function unsupportedNxMessage(version: string | undefined): string | undefined {
  const match = /^(\d+)\./.exec(version ?? '');
  if (!match) return undefined;
  const major = Number(match[1]);
  if (major >= SUPPORTED_NX.lowest && major <= SUPPORTED_NX.highest) return undefined;
  const fix =
    major < SUPPORTED_NX.lowest
      ? `upgrade the workspace to Nx ${SUPPORTED_NX.lowest} or newer (nx migrate ${SUPPORTED_NX.lowest})`
      : `stay on Nx ${SUPPORTED_NX.highest} or update nx-docker-delta to a release that supports Nx ${major}`;
  return `nx-docker-delta supports Nx ${SUPPORTED_NX.lowest}–${SUPPORTED_NX.highest} but this workspace runs Nx ${version}, so it infers no Docker targets — ${fix}.`;
}
