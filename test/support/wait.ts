/** Polls `read` until `done` holds for its value, or fails after `timeoutMs` with the last value. */
export async function waitFor<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  {
    timeoutMs = 30_000,
    everyMs = 100,
    between,
  }: { timeoutMs?: number; everyMs?: number; between?: () => Promise<void> } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    }
    await (between ? between() : new Promise((resolve) => setTimeout(resolve, everyMs)));
  }
}
