// What the runner tells the step about the workflow run, from the variables
// every GitHub-hosted and self-hosted runner sets
// (https://docs.github.com/en/actions/reference/variables-reference).
// Read once, like the inputs; errors name the variable.

import { readFileSync } from "node:fs";

export interface RunnerContext {
  /** owner/name */
  readonly repository: string;
  /** The commit statuses go on: the pull request's head for pull_request events, else GITHUB_SHA. */
  readonly sha: string;
  readonly ref: string;
  readonly runId: string;
  readonly runAttempt: string;
  readonly job: string;
  /** The step's id (GITHUB_ACTION): `build`, or `__owner_dockhand` / `__run_2` when the step has none. */
  readonly step: string;
  /** https://github.com, or the GitHub Enterprise Server URL. */
  readonly serverUrl: string;
  /** Where the packed context is written (RUNNER_TEMP, cleaned by the runner after the job). */
  readonly tempDir: string;
}

export class RunnerContextError extends Error {
  override readonly name = "RunnerContextError";
}

export function readRunnerContext(env: NodeJS.ProcessEnv, tmpdir: string): RunnerContext {
  const need = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === "") {
      throw new RunnerContextError(`${name} is not set; dockhand runs as a step of a GitHub Actions workflow, where the runner sets it`);
    }
    return value;
  };
  const repository = need("GITHUB_REPOSITORY");
  const ref = need("GITHUB_REF");
  return {
    repository,
    sha: pullRequestHeadSha(env) ?? need("GITHUB_SHA"),
    ref,
    runId: need("GITHUB_RUN_ID"),
    runAttempt: env["GITHUB_RUN_ATTEMPT"] || "1",
    job: need("GITHUB_JOB"),
    step: env["GITHUB_ACTION"] || "dockhand",
    serverUrl: (env["GITHUB_SERVER_URL"] || "https://github.com").replace(/\/+$/, ""),
    tempDir: env["RUNNER_TEMP"] || tmpdir,
  };
}

// On pull_request events GITHUB_SHA is the test merge commit, which no pull
// request page shows statuses for; the head commit is where required checks
// are looked up (what actions/checkout calls github.event.pull_request.head.sha).
function pullRequestHeadSha(env: NodeJS.ProcessEnv): string | undefined {
  const event = env["GITHUB_EVENT_NAME"];
  const path = env["GITHUB_EVENT_PATH"];
  if ((event !== "pull_request" && event !== "pull_request_target") || !path) return undefined;
  try {
    const payload = JSON.parse(readFileSync(path, "utf8")) as { pull_request?: { head?: { sha?: unknown } } };
    const sha = payload.pull_request?.head?.sha;
    return typeof sha === "string" && /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}
