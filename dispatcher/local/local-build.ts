// The in-memory companion of a stored build (build-store.ts keeps its
// record): what cannot be written to disk or would be wrong after a restart
// — its running processes, its deadline timers, the work in flight that
// stop() and idle() wait for, the reports queued per platform, and whoever
// waits for its next change (a followed log, a read-back backing off). A
// restarted dispatcher starts each build with an empty one (recover() in
// platform-runner.ts ends what these tracked).

import type { BuildRecord } from "./build-record.js";
import type { RunningStep } from "./step-process.js";

export class LocalBuild {
  persisted: Promise<void> = Promise.resolve();
  readonly processes = new Map<string, RunningStep>();
  readonly timedOut = new Set<string>();
  readonly deadlines = new Map<string, NodeJS.Timeout>();
  readonly work = new Set<Promise<unknown>>();
  readonly reporting = new Map<string, Promise<void>>();
  /** Consecutive failures per key of `reporting`, for the retry's back-off. */
  readonly failures = new Map<string, number>();
  private waiters = new Set<() => void>();
  /** The request's BuildKit secrets: in memory only, never in build.json (a restarted dispatcher ends the build anyway). */
  secrets: Readonly<Record<string, string>> = {};

  constructor(readonly record: BuildRecord) {}

  track(promise: Promise<unknown>): void {
    const settled = promise.catch(() => undefined).finally(() => this.work.delete(settled));
    this.work.add(settled);
  }

  changed(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Resolves on the next change, after `ms`, or on abort, whichever is first. */
  nextChange(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.waiters.add(done);
    });
  }
}
