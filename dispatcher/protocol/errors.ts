// The one error type of the build-request boundary. Validation and planning
// throw it; the HTTP layer maps it to a 4xx with the body `{ error, field, hint }`
// in one place, so nothing that throws it knows about HTTP.

export interface RequestProblem {
  /** What is wrong, starting with the field: `platforms[1]: "windows/amd64:ltsc2016" is not supported`. */
  readonly error: string;
  /** Where, as a path into the request body: `platforms[1]`, `buildArgs.FOO`, `tags[0]`. */
  readonly field: string;
  /** What to do about it: `use ltsc2019, ltsc2022 or ltsc2025`. */
  readonly hint: string;
  /**
   * 1-based line of the Dockerfile (the request's `file`) the problem is on,
   * when it is one line's: the Action annotates that line, so a pull
   * request's Files view shows the refusal where it is to be fixed.
   */
  readonly line?: number;
}

export class RequestError extends Error implements RequestProblem {
  override readonly name = "RequestError";
  readonly error: string;
  readonly field: string;
  readonly hint: string;
  readonly line: number | undefined;
  /**
   * Every problem found, the first being this error's own. Validation reports
   * them all so a user fixes a request in one round trip, not one per field.
   */
  readonly problems: readonly RequestProblem[];

  constructor(
    problem: RequestProblem,
    /** 400 for a malformed request, 409 for an idempotency-key conflict, 422 for a Dockerfile the chosen builder cannot build. */
    readonly status: number = 400,
    problems?: readonly RequestProblem[],
  ) {
    super(`${problem.error}; ${problem.hint}`);
    this.error = problem.error;
    this.field = problem.field;
    this.hint = problem.hint;
    this.line = problem.line;
    this.problems = problems && problems.length > 0 ? problems : [problem];
  }

  /** The response body; never includes anything but the three user-facing strings and the Dockerfile line. */
  toBody(): RequestProblem {
    return { error: this.error, field: this.field, hint: this.hint, ...(this.line !== undefined ? { line: this.line } : {}) };
  }
}

/** Quotes a user-supplied value for an error message, cut short so a huge value cannot flood logs. */
export function quoteValue(value: unknown, max = 80): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  const cut = text.length <= max ? text : `${text.slice(0, max)}…`;
  return JSON.stringify(cut);
}
