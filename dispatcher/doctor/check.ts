// One row of the doctor's table, and the wrapper that gives every check its
// own time limit: a check that hangs (an API server that accepts and never
// answers, a registry behind a black-holing firewall) becomes a FAIL naming
// the limit, and the other checks still run.

export type Outcome = "ok" | "FAIL" | "skip";

export interface CheckResult {
  /** e.g. "rbac: what it needs", "pool ltsc2022: dockerd". */
  readonly name: string;
  readonly outcome: Outcome;
  /** What was found, in words. */
  readonly detail: string;
  /** For FAIL (and skip): what the operator does about it. */
  readonly fix?: string;
  readonly ms?: number;
}

export const ok = (name: string, detail: string): CheckResult => ({ name, outcome: "ok", detail });
export const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, outcome: "FAIL", detail, fix });
/** Not checked, and why: never shown as ok, never faked. */
export const skip = (name: string, detail: string, fix?: string): CheckResult => ({ name, outcome: "skip", detail, ...(fix === undefined ? {} : { fix }) });

export class TimeLimitError extends Error {
  constructor(readonly seconds: number) {
    super(`no answer within ${seconds} s`);
  }
}

/**
 * Runs one check group under a time limit. An exception becomes a FAIL row
 * named `name` with the error's message; `fixOnError` says what to do then.
 * The signal aborts the group's own I/O when its time is up.
 */
export async function timed(
  name: string,
  seconds: number,
  fixOnError: string,
  run: (signal: AbortSignal) => Promise<CheckResult[]>,
): Promise<CheckResult[]> {
  const started = Date.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort(new TimeLimitError(seconds));
      reject(new TimeLimitError(seconds));
    }, seconds * 1000);
  });
  try {
    const results = await Promise.race([run(controller.signal), limit]);
    const ms = Date.now() - started;
    return results.map((result) => ({ ...result, ms: result.ms ?? ms }));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return [{ ...fail(name, message, fixOnError), ms: Date.now() - started }];
  } finally {
    clearTimeout(timer);
  }
}
