// Runs the bundled Action (dist/main.mjs, dist/post.mjs) the way the GitHub
// Actions runner runs a `uses:` step: a Node process whose inputs are
// INPUT_<NAME> variables (upper-cased, spaces as _, hyphens kept: build-args
// → INPUT_BUILD-ARGS), which writes outputs, state and the job summary to the
// files named by GITHUB_OUTPUT, GITHUB_STATE and GITHUB_STEP_SUMMARY, prints
// workflow commands (::group::, ::error::) on stdout, and gets the state back
// as STATE_<name> variables in its post step.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface StepRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
  seconds: number;
  /** From the last output to the process's exit: what an open socket or timer would keep it alive for. */
  lingeredMs: number;
}

export interface Step {
  child: ChildProcess;
  /** Output so far. */
  stdout(): string;
  state(): Record<string, string>;
  done: Promise<StepRun>;
}

/** A workspace with these files (the checkout the step builds). */
export function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "dh-action-ws-"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** `name=value` lines and `name<<DELIMITER` blocks, as @actions/core writes them. */
export function readCommandFile(file: string): Record<string, string> {
  const values: Record<string, string> = {};
  const lines = existsSync(file) ? readFileSync(file, "utf8").split("\n") : [];
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]!);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]!);
      values[heredoc[1]!] = value.join("\n");
    } else if (lines[i]!.includes("=")) {
      const eq = lines[i]!.indexOf("=");
      values[lines[i]!.slice(0, eq)] = lines[i]!.slice(eq + 1);
    }
  }
  return values;
}

export interface RunContext {
  workspace: string;
  runId: string;
  repository?: string;
  sha?: string;
  ref?: string;
  job?: string;
  step?: string;
}

/** Starts dist/<entry>.mjs; `extraEnv` adds what only some runs get (ACTIONS_ID_TOKEN_REQUEST_URL for id-token: write). */
export function startStep(entry: "main" | "post", inputs: Record<string, string>, context: RunContext, state: Record<string, string> = {}, extraEnv: Record<string, string> = {}): Step {
  const dir = mkdtempSync(join(tmpdir(), `dh-action-${entry}-`));
  const output = join(dir, "output");
  const stateFile = join(dir, `state-${entry}`);
  const summary = join(dir, "summary.md");
  const event = join(dir, "event.json");
  for (const file of [output, stateFile, summary]) writeFileSync(file, "");
  writeFileSync(event, JSON.stringify({ ref: context.ref ?? "refs/heads/main" }));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: "true",
    CI: "true",
    GITHUB_REPOSITORY: context.repository ?? "octo-org/windows-app",
    GITHUB_SHA: context.sha ?? "0123456789abcdef0123456789abcdef01234567",
    GITHUB_REF: context.ref ?? "refs/heads/main",
    GITHUB_EVENT_NAME: "push",
    GITHUB_EVENT_PATH: event,
    GITHUB_RUN_ID: context.runId,
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_JOB: context.job ?? "image",
    GITHUB_ACTION: context.step ?? "build",
    GITHUB_WORKSPACE: context.workspace,
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_OUTPUT: output,
    GITHUB_STATE: stateFile,
    GITHUB_STEP_SUMMARY: summary,
    RUNNER_TEMP: dir,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] = value;
  for (const [name, value] of Object.entries(state)) env[`STATE_${name}`] = value;
  Object.assign(env, extraEnv);
  const started = Date.now();
  let lastOutput = started;
  const child = spawn(process.execPath, [join(repoRoot, `dist/${entry}.mjs`)], { cwd: context.workspace, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  const record = (chunk: Buffer) => {
    stdout += chunk.toString();
    lastOutput = Date.now();
  };
  child.stdout!.on("data", record);
  child.stderr!.on("data", record);
  const done = new Promise<StepRun>((resolve) => {
    child.on("exit", (exitCode, signal) => {
      const exited = Date.now();
      // Let the pipes drain before reading them.
      setTimeout(
        () =>
          resolve({
            exitCode,
            signal,
            stdout,
            outputs: readCommandFile(output),
            state: readCommandFile(stateFile),
            summary: readFileSync(summary, "utf8"),
            seconds: (Date.now() - started) / 1000,
            lingeredMs: exited - lastOutput,
          }),
        50,
      );
    });
  });
  return { child, stdout: () => stdout, state: () => readCommandFile(stateFile), done };
}

export function runStep(entry: "main" | "post", inputs: Record<string, string>, context: RunContext, state: Record<string, string> = {}, extraEnv: Record<string, string> = {}): Promise<StepRun> {
  return startStep(entry, inputs, context, state, extraEnv).done;
}

export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
