/** Polls `probe` every 250 ms until it gives a value; fails naming `what` after `ms`. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, ms = 45_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
