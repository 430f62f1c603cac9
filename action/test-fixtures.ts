// What the Action's tests (and the contract tests in test/unit/contract/)
// run with: one runner context and one way to parse inputs, not a copy each.
import { parseInputs, type InputName } from "./inputs.js";
import type { RunnerContext } from "./runner.js";

export function testRunner(overrides: Partial<RunnerContext> = {}): RunnerContext {
  return {
    repository: "octo-org/windows-app",
    sha: "0123456789abcdef0123456789abcdef01234567",
    ref: "refs/heads/main",
    runId: "9876543210",
    runAttempt: "2",
    job: "image",
    step: "build",
    serverUrl: "https://github.com",
    tempDir: "/tmp",
    ...overrides,
  };
}

/** The Action's inputs as the runner would give them: a dispatcher URL and one platform unless set. */
export function testInputs(raw: Partial<Record<InputName, string>>, workspace = "/w") {
  return parseInputs((name) => ({ "dispatcher-url": "https://d.example.com", platforms: "windows/amd64:ltsc2022", ...raw })[name] ?? "", workspace);
}
