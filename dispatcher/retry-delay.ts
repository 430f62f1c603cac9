// How long a failed step waits before it is tried again, in both executors.

/** 2 s, doubling per consecutive failure, at most a minute (client-go's workqueue backs off the same way). */
export function retryDelayMs(failures: number): number {
  return Math.min(2_000 * 2 ** Math.max(0, failures - 1), 60_000);
}
