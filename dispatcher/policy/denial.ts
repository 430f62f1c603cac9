// A request refused by policy: 403 (or 429 for the concurrency limit), with
// the rule that refused it (a config path such as
// policy.repositories[2].dockerPool) so whoever reads the denial knows which
// line of the dispatcher's config to look at.

import { RequestError } from "../protocol/errors.js";

export class PolicyDenial extends RequestError {
  constructor(
    readonly rule: string,
    problem: { error: string; field: string; hint: string },
    status: 403 | 429 = 403,
    /** For 429: when trying again may succeed. */
    readonly retryAfterSeconds?: number,
  ) {
    super({ ...problem, error: `${problem.error} (rule ${rule})` }, status);
  }
}
