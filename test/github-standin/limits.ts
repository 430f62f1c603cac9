// GitHub's documented limits, for the stand-in to enforce when a test asks
// (GitHubStandInOptions.limits; off by default). What GitHub documents, and
// where:
//
// - Primary rate limit, per credential (a token, or a GitHub App
//   installation): 5,000 requests an hour at least for a token or an
//   installation; x-ratelimit-limit / -remaining / -used / -reset (UTC epoch
//   seconds) / -resource on every answer. Exceeded: "you will receive a 403
//   or 429 response, and the x-ratelimit-remaining header will be 0".
//   https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
//   (sections "Primary rate limit for GitHub App installations", "Checking
//   the status of your rate limit", "Exceeding the rate limit").
// - Secondary rate limits, same page, "About secondary rate limits": "No
//   more than 100 concurrent requests are allowed"; "No more than 900 points
//   per minute are allowed for REST API endpoints" (per endpoint; most GET 1
//   point, most POST/PATCH/PUT/DELETE 5); "no more than 80
//   content-generating requests per minute and no more than 500
//   content-generating requests per hour are allowed". Exceeded: "a 403 or
//   429 response and an error message that indicates that you exceeded a
//   secondary rate limit", with a retry-after header to obey when present
//   (also https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api,
//   "Handle rate limit errors appropriately"). The CPU-time limit (90 s per
//   60 s) is not modelled: the stand-in's answers cost no GitHub CPU.
// - Commit statuses: "there is a limit of 1000 statuses per sha and context
//   within a repository. Attempts to create more than 1000 statuses will
//   result in a validation error" (the create-commit-status operation in
//   GitHub's OpenAPI description;
//   https://docs.github.com/rest/commits/statuses#create-a-commit-status). The
//   body is GitHub's as seen in the wild: 422 "Validation Failed", error
//   code "custom", "This SHA and context has reached the maximum number of
//   statuses."
//
// What GitHub leaves open is chosen to be strict: windows slide (a burst at
// the turn of a minute is not let through twice), every authenticated
// request counts against the primary limit (including those a secondary
// limit refuses) except those the primary limit itself refuses, and a
// request refused by a secondary limit does not count against it.

import { createHash } from "node:crypto";

export interface GitHubLimits {
  /** Requests per credential per hour (a token's or an installation's minimum). */
  primaryPerHour: number;
  /** Content-generating requests per credential in any 60 s. */
  contentPerMinute: number;
  /** Content-generating requests per credential in any 3600 s. */
  contentPerHour: number;
  /** Requests of one credential in flight at once. */
  concurrent: number;
  /** Points per credential per endpoint in any 60 s (GET/HEAD/OPTIONS 1, other methods 5). */
  pointsPerMinute: number;
  /** Statuses per repository, sha and context. */
  statusesPerShaContext: number;
  /** The status of a rate-limit answer: GitHub documents "403 or 429". */
  answerStatus: 403 | 429;
  /** Milliseconds since the epoch; tests pass a clock they move. */
  now: () => number;
}

export const gitHubLimits: Readonly<Omit<GitHubLimits, "now">> = {
  primaryPerHour: 5000,
  contentPerMinute: 80,
  contentPerHour: 500,
  concurrent: 100,
  pointsPerMinute: 900,
  statusesPerShaContext: 1000,
  answerStatus: 403,
};

export type LimitKind = "primary" | "secondary-content" | "secondary-concurrency" | "secondary-points";

export interface LimitAnswer {
  kind: LimitKind;
  status: number;
  body: { message: string; documentation_url: string };
  headers: Record<string, string>;
}

/**
 * The operations that create content on GitHub. Of what the stand-in
 * implements, only a commit status does (an installation token is a
 * credential, not content).
 */
export const contentGenerating = new Set(["repos/create-commit-status"]);

const rateLimitDocs = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api";
const minuteMs = 60_000;
const hourMs = 3_600_000;

interface PrimaryWindow {
  used: number;
  /** UTC epoch seconds. */
  reset: number;
}

export class GitHubLimiter {
  readonly limits: GitHubLimits;
  private readonly primary = new Map<string, PrimaryWindow>();
  private readonly inFlight = new Map<string, number>();
  /** Admitted content-generating requests per credential (times, oldest first, the last hour). */
  private readonly content = new Map<string, number[]>();
  /** Admitted requests per credential and endpoint (time and points, the last minute). */
  private readonly points = new Map<string, { at: number; points: number }[]>();
  private readonly statusCounts = new Map<string, number>();

  constructor(limits: Partial<GitHubLimits> = {}) {
    this.limits = { ...gitHubLimits, now: Date.now, ...limits };
  }

  /**
   * Whose budget a request spends, from its Authorization header alone (the
   * concurrency count starts before the request is authenticated): an
   * installation token the stand-in issued is its installation's, an App JWT
   * its App's, any other token its own. Undefined: no credential, no budget.
   */
  credentialOf(authorization: string | undefined, installationOfToken: (token: string) => number | undefined): string | undefined {
    const [scheme = "", credential = ""] = (authorization ?? "").split(/\s+/, 2);
    if (credential === "" || !/^(token|bearer)$/i.test(scheme)) return undefined;
    const installation = installationOfToken(credential);
    if (installation !== undefined) return `installation:${installation}`;
    const parts = credential.split(".");
    if (scheme.toLowerCase() === "bearer" && parts.length === 3) {
      try {
        const payload = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as { iss?: unknown };
        if (payload.iss !== undefined) return `app:${String(payload.iss)}`;
      } catch {
        // not a JWT: a token like any other
      }
    }
    return `token:${createHash("sha256").update(credential).digest("hex").slice(0, 12)}`;
  }

  /** A request of this credential has arrived; call the returned function once it is answered (or its connection closed). */
  arrive(credential: string | undefined): () => void {
    if (credential === undefined) return () => undefined;
    this.inFlight.set(credential, (this.inFlight.get(credential) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(credential) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(credential);
      else this.inFlight.set(credential, left);
    };
  }

  /**
   * An authenticated request to an operation: counts it and answers the
   * primary-limit headers to send, plus the refusal if a limit is exceeded.
   */
  admit(credential: string, method: string, operationId: string): { headers: Record<string, string>; refused?: LimitAnswer } {
    const now = this.limits.now();
    let window = this.primary.get(credential);
    if (window === undefined || now >= window.reset * 1000) {
      window = { used: 0, reset: Math.ceil((now + hourMs) / 1000) };
      this.primary.set(credential, window);
    }
    const limit = this.limits.primaryPerHour;
    if (window.used >= limit) {
      const headers = primaryHeaders(limit, window.used, window.reset);
      return {
        headers,
        refused: {
          kind: "primary",
          status: this.limits.answerStatus,
          headers,
          body: {
            message: `API rate limit exceeded for ${credential.replace(/^installation:/, "installation ID ").replace(/^app:/, "app ID ").replace(/^token:.*/, "user ID 1")}. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.`,
            documentation_url: `${rateLimitDocs}#about-the-primary-rate-limit`,
          },
        },
      };
    }
    window.used++;
    const headers = primaryHeaders(limit, window.used, window.reset);
    const secondary = (kind: LimitKind, retryAfterMs: number): { headers: Record<string, string>; refused: LimitAnswer } => {
      const retryHeaders = { ...headers, "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };
      return {
        headers: retryHeaders,
        refused: {
          kind,
          status: this.limits.answerStatus,
          headers: retryHeaders,
          body: {
            message:
              "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.",
            documentation_url: `${rateLimitDocs}#about-secondary-rate-limits`,
          },
        },
      };
    };

    // The request itself is one of those in flight (arrive() counted it).
    if ((this.inFlight.get(credential) ?? 0) > this.limits.concurrent) return secondary("secondary-concurrency", 1000);

    const cost = /^(GET|HEAD|OPTIONS)$/i.test(method) ? 1 : 5;
    const pointsKey = `${credential}\0${operationId}`;
    const spent = (this.points.get(pointsKey) ?? []).filter((p) => p.at > now - minuteMs);
    this.points.set(pointsKey, spent);
    if (spent.reduce((sum, p) => sum + p.points, 0) + cost > this.limits.pointsPerMinute) {
      // Until enough of the oldest points have aged out of the minute.
      let excess = spent.reduce((sum, p) => sum + p.points, 0) + cost - this.limits.pointsPerMinute;
      const freeing = spent.find((p) => (excess -= p.points) <= 0) ?? spent[spent.length - 1]!;
      return secondary("secondary-points", freeing.at + minuteMs - now);
    }

    if (contentGenerating.has(operationId)) {
      const created = (this.content.get(credential) ?? []).filter((at) => at > now - hourMs);
      this.content.set(credential, created);
      const lastMinute = created.filter((at) => at > now - minuteMs);
      if (lastMinute.length >= this.limits.contentPerMinute) {
        return secondary("secondary-content", lastMinute[lastMinute.length - this.limits.contentPerMinute]! + minuteMs - now);
      }
      if (created.length >= this.limits.contentPerHour) {
        return secondary("secondary-content", created[created.length - this.limits.contentPerHour]! + hourMs - now);
      }
      created.push(now);
    }
    spent.push({ at: now, points: cost });
    return { headers };
  }

  /** Counts a status about to be created; false: its sha and context have reached the maximum. */
  admitStatus(repository: string, sha: string, context: string): boolean {
    const key = `${repository.toLowerCase()}\0${sha}\0${context}`;
    const count = this.statusCounts.get(key) ?? 0;
    if (count >= this.limits.statusesPerShaContext) return false;
    this.statusCounts.set(key, count + 1);
    return true;
  }
}

/** GitHub's 422 for a status beyond the maximum of its sha and context. */
export const tooManyStatuses = {
  status: 422,
  body: {
    message: "Validation Failed",
    errors: [{ resource: "Status", code: "custom", message: "This SHA and context has reached the maximum number of statuses." }],
    documentation_url: "https://docs.github.com/rest/commits/statuses#create-a-commit-status",
  },
};

function primaryHeaders(limit: number, used: number, reset: number): Record<string, string> {
  return {
    "x-ratelimit-limit": String(limit),
    "x-ratelimit-remaining": String(Math.max(limit - used, 0)),
    "x-ratelimit-used": String(used),
    "x-ratelimit-reset": String(reset),
    "x-ratelimit-resource": "core",
  };
}
