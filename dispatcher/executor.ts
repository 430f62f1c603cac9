// What the HTTP API needs from whatever runs builds: the Kubernetes executor
// (one Job per platform) or the local one (a Docker daemon on this host).

import type { BuildPlan } from "./plan/build-plan.js";
import type { LogLine } from "./protocol/build-logs.js";
import type { BuildState } from "./protocol/build-state.js";
import type { PlatformPhase } from "./protocol/phases.js";

/** How many lines of each "platform/step" the client has already seen. */
export type LogResume = Readonly<Record<string, number>>;

export interface LogOptions {
  follow: boolean;
  resume: LogResume;
  signal: AbortSignal;
}

/** The idempotency key names a stored build whose request differs: the API answers 409. */
export class IdempotencyConflict extends Error {
  constructor(readonly jobName: string) {
    super(`idempotency key already used for a different build request (Job ${jobName})`);
  }
}

export interface SubmitResult {
  build: BuildState;
  /** False when every Job already existed: a retried request, not a new build. */
  created: boolean;
}

export interface Executor {
  readonly kind: "kubernetes" | "local";
  /** Where builds run, for the start-up log: a namespace and API server, or a Docker host. */
  readonly where: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stores the build (idempotently) and resolves once every platform's work is durably recorded. */
  /**
   * `secrets`: the request's BuildKit secrets (id → value), which no plan
   * carries; the executor keeps them apart from anything stored or logged.
   */
  submit(plan: BuildPlan, githubToken: string | undefined, secrets?: Readonly<Record<string, string>>): Promise<SubmitResult>;
  get(buildId: string): Promise<BuildState | undefined>;
  /** Every build it knows now, from its cache (GET /v1/builds filters and pages them: model/build-list.ts). */
  list(): Promise<BuildState[]>;
  cancel(buildId: string, reason: string): Promise<BuildState | undefined>;
  logs(buildId: string, options: LogOptions): AsyncIterable<LogLine>;
  /**
   * Resolves with the build's state once it is final (undefined once it is
   * gone), woken by the executor's own change feed. The log stream's end
   * waits on it; without it the route polls get().
   */
  settled?(buildId: string, signal: AbortSignal): Promise<BuildState | undefined>;
  /** The state of every platform build it knows of now, from its cache (metrics). */
  platformPhases(): PlatformPhase[];
  /** True when the executor can take builds (API server reachable, caches synced). */
  ready(): Promise<boolean>;
}
