/**
 * What `body` logged through console.warn (Nx's logger.warn), without the colours Nx's logger
 * adds where picocolors sees a terminal or CI=true. Test helper, not shipped.
 */
export async function warningsOf(body: () => unknown): Promise<string[]> {
  const warnings: string[] = [];
  const original = console.warn;
  // eslint-disable-next-line no-control-regex
  console.warn = (message?: unknown) => void warnings.push(String(message).replace(/\x1b\[[0-9;]*m/g, ''));
  try {
    await body();
  } finally {
    console.warn = original;
  }
  return warnings;
}
