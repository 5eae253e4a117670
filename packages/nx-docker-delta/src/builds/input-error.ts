/**
 * Bad input a user fixes (a missing receipt, an unknown option, …): one sentence, no stack. Its own
 * module so that entry points which only check receipts (bin/docker-build.ts) do not load the builds.
 */
export class BuildInputError extends Error {}
