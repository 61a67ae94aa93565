/** Polls `pred` until it holds; resolves with the ms it took, or throws naming what it waited for. */
export async function until(pred: () => boolean, ms: number, what: string, pollMs = 2): Promise<number> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return Date.now() - t0;
}
