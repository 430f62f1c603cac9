// The Action and the dispatcher agree on their contract (dispatcher/protocol/).
// Each side runs its own code: the Action's input parsing, context packing,
// request body, signing client, log follower, outputs and summary, against the
// dispatcher's own routes, access control, validation, planning, Job
// manifests and state derivation, over HTTP in one process. Only the cluster
// is stood in for: the plan's own Jobs are marked finished the way the
// reconciler leaves them, and the state is derived from them the way the
// Kubernetes executor does. Every body either side sends is also checked
// against the protocol schema the routes declare (and docs/openapi.json shows).

import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { TSchema } from "@sinclair/typebox";
import { Ajv } from "ajv";
import addFormatsPlugin from "ajv-formats";
import type { FastifyInstance } from "fastify";
import { testRunner } from "../../../action/test-fixtures.js";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestAuth } from "../../../action/auth.js";
import { DispatcherClient, DispatcherRequestError, userAgent } from "../../../action/client.js";
import { packContext } from "../../../action/context.js";
import { parseInputs, type InputName, type Inputs } from "../../../action/inputs.js";
import { followLogs, LogCursor, type LogEvent } from "../../../action/logs.js";
import { stepOutputs } from "../../../action/outputs.js";
import { buildRequestBody } from "../../../action/request.js";
import { summaryTable } from "../../../action/summary.js";
import { parseResume } from "../../../dispatcher/api/routes/build-route-params.js";
import { buildServer } from "../../../dispatcher/api/server.js";
import type { Config } from "../../../dispatcher/config/schema.js";
import { ContextStore } from "../../../dispatcher/contexts/context-store.js";
import type { Executor } from "../../../dispatcher/executor.js";
import type { LogLine } from "../../../dispatcher/protocol/build-logs.js";
import { createMetrics } from "../../../dispatcher/metrics.js";
import type { BuildPlan } from "../../../dispatcher/plan/build-plan.js";
import { jobManifests } from "../../../dispatcher/plan/job-manifests.js";
import { annotationKeys } from "../../../dispatcher/plan/names.js";
import { testConfig } from "../../../dispatcher/plan/test-fixtures.js";
import { BuildRequestSchema } from "../../../dispatcher/protocol/build-request.js";
import { type BuildState, type BuildStateBody, BuildStateSchema } from "../../../dispatcher/protocol/build-state.js";
import { ErrorSchema } from "../../../dispatcher/protocol/error-body.js";
import { deriveBuildState } from "../../../dispatcher/controller/state-from-jobs.js";

const secret = "contract-test-shared-secret-0123456789abcdef";
const registry = "127.0.0.1:15000";
const runner = testRunner({ tempDir: tmpdir() });
const digest = (c: string) => `sha256:${c.repeat(64)}`;

// A plain JSON Schema validator, formats included, as any client of
// docs/openapi.json would read these schemas.
const ajv = new Ajv({ allErrors: true, strict: false });
// ajv-formats is CommonJS: under NodeNext the default import is module.exports.
addFormatsPlugin.default(ajv);

/** What the schema says is wrong with a value, or [] when it conforms. */
function schemaProblems(schema: TSchema, value: unknown): string[] {
  const validate = ajv.compile(schema);
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message ?? e.keyword}`);
}

/** The cluster, finished: each Job Complete (or Failed, for the platforms named) with what the reconciler writes, and its pod. */
class FinishedCluster implements Executor {
  readonly kind = "kubernetes";
  readonly where = "contract test";
  /** Platform strings whose build step fails. */
  failing = new Set<string>();
  private readonly builds = new Map<string, { jobs: V1Job[]; pods: V1Pod[] }>();

  constructor(private readonly config: Config) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async ready(): Promise<boolean> {
    return true;
  }
  platformPhases() {
    return [];
  }

  async submit(plan: BuildPlan): Promise<{ build: BuildState; created: boolean }> {
    const created = !this.builds.has(plan.buildId);
    if (created) this.builds.set(plan.buildId, this.finish(plan, jobManifests(plan, this.config)));
    return { build: (await this.get(plan.buildId))!, created };
  }

  async get(buildId: string): Promise<BuildState | undefined> {
    const build = this.builds.get(buildId);
    return build && deriveBuildState(buildId, build.jobs, build.pods, { now: new Date(), unschedulableAfterSeconds: 600 });
  }

  async cancel(buildId: string): Promise<BuildState | undefined> {
    return this.get(buildId);
  }

  async list(): Promise<BuildState[]> {
    return Promise.all([...this.builds.keys()].map(async (id) => (await this.get(id))!));
  }

  async *logs(buildId: string): AsyncIterable<LogLine> {
    const build = await this.get(buildId);
    for (const platform of build?.platforms ?? []) {
      yield { platform: platform.platform, step: "build", n: 1, line: `#1 building ${platform.platform}` };
      yield { platform: platform.platform, step: "build", n: 2, line: "#1 DONE 0.1s" };
    }
  }

  private finish(plan: BuildPlan, jobs: V1Job[]): { jobs: V1Job[]; pods: V1Pod[] } {
    const created = new Date("2026-11-23T20:00:00Z");
    const started = new Date("2026-11-23T20:00:05Z");
    const ended = new Date("2026-11-23T20:01:05Z");
    const failed = jobs.some((job) => this.failing.has(job.metadata!.annotations![annotationKeys.platform]!));
    const pods: V1Pod[] = [];
    jobs.forEach((job, index) => {
      const annotations = job.metadata!.annotations!;
      const platform = annotations[annotationKeys.platform]!;
      const windows = /:(ltsc\d{4})$/.exec(platform)?.[1];
      const uid = `uid-${index}`;
      job.metadata = { ...job.metadata, uid, creationTimestamp: created };
      const fails = this.failing.has(platform);
      if (fails) {
        job.status = { conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit", lastTransitionTime: ended }] };
      } else {
        job.status = { completionTime: ended, conditions: [{ type: "Complete", status: "True", lastTransitionTime: ended }] };
        annotations[annotationKeys.digest] = digest(String(index + 1));
        annotations[annotationKeys.imagePlatform] = JSON.stringify({
          os: windows ? "windows" : "linux",
          architecture: "amd64",
          ...(windows ? { "os.version": "10.0.20348.2700" } : {}),
          digest: digest(String(index + 1)),
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          size: 1234,
        });
        annotations[annotationKeys.reported] = "success";
      }
      const indexTags = annotations[annotationKeys.indexTags];
      // The index is pushed once every platform succeeded; with one failed, never.
      if (indexTags && !failed) annotations[annotationKeys.index] = JSON.stringify({ digest: digest("f"), tags: JSON.parse(indexTags) });
      pods.push({
        metadata: { name: `${job.metadata.name}-pod`, creationTimestamp: created, ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job.metadata.name!, uid }] },
        spec: { nodeName: windows ? `akswin-${windows}` : "aks-linux-0", containers: [{ name: "build", image: "build" }] },
        status: {
          phase: fails ? "Failed" : "Succeeded",
          startTime: started,
          containerStatuses: [
            {
              name: "build",
              image: "build",
              imageID: "",
              ready: false,
              restartCount: 0,
              state: { terminated: { exitCode: fails ? 1 : 0, finishedAt: ended, ...(fails ? { message: "RUN failed: exit status 1" } : {}) } },
            },
          ],
        },
      });
    });
    return { jobs, pods };
  }
}

let app: FastifyInstance;
let cluster: FinishedCluster;
let baseUrl = "";
let workspace = "";
const dirs: string[] = [];

beforeAll(async () => {
  const contexts = mkdtempSync(join(tmpdir(), "dh-contract-store-"));
  dirs.push(contexts);
  const config = testConfig({
    publicUrl: "http://dockhand.example",
    contexts: { dir: contexts, signingKey: "k".repeat(32) },
    auth: { sharedSecrets: [{ name: "ci", secret, repositories: ["octo-org/*"] }] },
    policy: { repositories: [{ repository: "octo-org/*", imagePrefixes: [`${registry}/octo-org/`] }] },
  });
  cluster = new FinishedCluster(config);
  app = await buildServer({ config, store: await ContextStore.create({ dir: contexts, ttlSeconds: 600 }), executor: cluster, metrics: createMetrics() });
  baseUrl = await app.listen({ host: "127.0.0.1", port: 0 });

  workspace = mkdtempSync(join(tmpdir(), "dh-contract-ws-"));
  dirs.push(workspace);
  mkdirSync(join(workspace, "app/docker"), { recursive: true });
  writeFileSync(join(workspace, "app/docker/Dockerfile"), "ARG NANOSERVER_TAG=ltsc2022\nFROM mcr.microsoft.com/windows/nanoserver:${NANOSERVER_TAG} AS runtime\nCOPY app.txt C:/app/\n");
  writeFileSync(join(workspace, "app/app.txt"), "hello\n");
});

afterAll(async () => {
  await app?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Every input set, as a workflow would write them. */
function actionInputs(overrides: Partial<Record<InputName, string>> = {}): Inputs {
  const raw: Record<InputName, string> = {
    "dispatcher-url": baseUrl,
    auth: "secret",
    audience: "",
    secret,
    "github-token": "ghs_contractTestToken",
    context: "app",
    file: "app/docker/Dockerfile",
    tags: `${registry}/octo-org/windows-app:1.0\n${registry}/octo-org/windows-app`,
    "build-args": "VERSION=1.0\nMOTTO=a=b, c",
    labels: "org.opencontainers.image.source=https://github.com/octo-org/windows-app\nteam=core",
    target: "runtime",
    push: "true",
    platforms: "windows/amd64:ltsc2022,windows/amd64:ltsc2019",
    builder: "buildkit",
    "status-context": "ci/images",
    wait: "true",
    timeout: "30m",
    pull: "true",
    "no-cache": "false",
    secrets: "",
    "secret-files": "",
    "secret-envs": "",
    "cache-from": "",
    "cache-to": "",
    annotations: "manifest:org.opencontainers.image.description=Windows app, built by dockhand",
    provenance: "mode=max",
    sbom: "",
    ...overrides,
  };
  return parseInputs((name) => raw[name], workspace);
}

/** What action/main.ts does up to the build request: pack, upload unless stored, request. */
async function requestBuild(inputs: Inputs) {
  const client = new DispatcherClient({ baseUrl: inputs.dispatcherUrl, auth: requestAuth(inputs.auth), userAgent, retry: { attempts: 1 } });
  const packed = await packContext({ contextDir: inputs.contextDir, dockerfile: inputs.dockerfile, outFile: join(mkdtempSync(join(tmpdir(), "dh-contract-ctx-")), "context.tar.gz") });
  if (!(await client.hasContext(packed.digest))) await client.uploadContext(packed.digest, packed.path, packed.size);
  expect(await client.hasContext(packed.digest)).toBe(true);
  const body = buildRequestBody(inputs, runner, packed.digest);
  return { client, body, ...(await client.createBuild(body)) };
}

describe("the Action's build request", () => {
  it("with every input set is a body of the protocol schema, and the dispatcher accepts it (signed, uploaded context, validated, planned)", async () => {
    const inputs = actionInputs();
    const { body, created, build } = await requestBuild(inputs);
    expect(schemaProblems(BuildRequestSchema, body)).toEqual([]);
    expect(created).toBe(true);
    // Each input reached the build: the plan's Jobs carry them.
    expect(build).toMatchObject({ repository: runner.repository, sha: runner.sha, ref: runner.ref });
    expect(build.platforms.map((p) => [p.platform, p.builder, p.statusContext])).toEqual([
      ["windows/amd64:ltsc2019", "buildkit", "ci/images/windows-ltsc2019"],
      ["windows/amd64:ltsc2022", "buildkit", "ci/images/windows-ltsc2022"],
    ]);
    expect(build.manifest).toMatchObject({ tags: [`${registry}/octo-org/windows-app:1.0`, `${registry}/octo-org/windows-app:latest`], statusContext: "ci/images/manifest" });
  });

  it("sent again by a retried step is the same build, not a second one (idempotency key)", async () => {
    const first = await requestBuild(actionInputs({ "build-args": "RUN=2" }));
    const again = await requestBuild(actionInputs({ "build-args": "RUN=2" }));
    expect([first.created, again.created]).toEqual([true, false]);
    expect(again.build.id).toBe(first.build.id);
  });
});

describe("the build state the dispatcher answers", () => {
  it("is a body of the protocol schema, on every route that answers one, and the Action reads it: outputs, images, summary, logs", async () => {
    const inputs = actionInputs({ "build-args": "RUN=3" });
    const { client, build: accepted } = await requestBuild(inputs);
    const read = (await client.getBuild(accepted.id))!;
    const cancelled = (await client.cancelBuild(accepted.id))!;
    for (const answer of [accepted, read, cancelled]) expect(schemaProblems(BuildStateSchema, answer)).toEqual([]);

    // Every field the dispatcher knows for a finished multi-platform push is there to read.
    expect(read.state).toBe("succeeded");
    expect(read.manifest).toMatchObject({ state: "succeeded", digest: digest("f") });
    for (const platform of read.platforms) {
      expect(Object.keys(platform).sort()).toEqual(
        ["builder", "builderReason", "createdAt", "digest", "finishedAt", "image", "imageCheck", "job", "node", "platform", "pod", "pushRef", "reported", "slug", "startedAt", "state", "statusContext"].sort(),
      );
    }

    // The images the Action names per platform are the ones the dispatcher's Jobs push (protocol/push-refs.ts on both sides).
    const outputs = stepOutputs(read, inputs.tags, inputs.push);
    const images = JSON.parse(outputs.images) as Record<string, string[]>;
    for (const platform of read.platforms) {
      expect(images[platform.platform]).toEqual([
        `${registry}/octo-org/windows-app:1.0-${platform.slug}@${platform.digest}`,
        `${registry}/octo-org/windows-app:latest-${platform.slug}@${platform.digest}`,
      ]);
      expect(images[platform.platform]![0]).toBe(`${platform.pushRef}@${platform.digest}`);
    }
    expect(outputs.digest).toBe(digest("f"));
    expect(JSON.parse(outputs.metadata)).toMatchObject({ buildId: read.id, url: `http://dockhand.example/v1/builds/${read.id}`, logsUrl: `http://dockhand.example/v1/builds/${read.id}/logs` });
    expect(summaryTable(read).rows.map((row) => row[4])).toEqual(["✅ succeeded", "✅ succeeded", "✅ pushed"]);

    const events: LogEvent[] = [];
    for await (const event of followLogs(client, read, { reconnectDelayMs: 10, waitDelayMs: 10 })) events.push(event);
    expect(events.filter((e) => e.kind === "line")).toHaveLength(4);
    expect(events.at(-1)).toEqual({ kind: "end", state: "succeeded" });
  });

  it("of a failed platform carries the failed step and why, and the index's failure", async () => {
    cluster.failing = new Set(["windows/amd64:ltsc2019"]);
    try {
      const { client, build } = await requestBuild(actionInputs({ "build-args": "RUN=4" }));
      const read: BuildStateBody = (await client.getBuild(build.id))!;
      expect(schemaProblems(BuildStateSchema, read)).toEqual([]);
      expect(read.state).toBe("failed");
      expect(read.platforms.find((p) => p.platform === "windows/amd64:ltsc2019")).toMatchObject({ state: "failed", failedStep: { name: "build", exitCode: 1 }, message: "step build exited with code 1: RUN failed: exit status 1" });
      expect(read.manifest).toMatchObject({ state: "failed", message: "no index pushed: windows/amd64:ltsc2019 failed" });
    } finally {
      cluster.failing = new Set();
    }
  });
});

describe("the log stream", () => {
  it("is resumed with a cursor the Action writes and the dispatcher reads back", () => {
    const platforms = [
      { platform: "windows/amd64:ltsc2022", slug: "win-ltsc2022" },
      { platform: "linux/amd64", slug: "linux-amd64" },
    ] as BuildStateBody["platforms"];
    const cursor = new LogCursor({ platforms });
    for (const [platform, step, n] of [["windows/amd64:ltsc2022", "build", 120], ["linux/amd64", "build", 80], ["linux/amd64", "push-0", 3]] as const) {
      cursor.accept({ platform, step, n, line: "" });
    }
    expect(parseResume(cursor.resume())).toEqual({ "win-ltsc2022/build": 120, "linux-amd64/build": 80, "linux-amd64/push-0": 3 });
  });
});

describe("the dispatcher's refusals", () => {
  it("are error bodies of the protocol schema, and the Action names the input at fault", async () => {
    const inputs = actionInputs();
    const { client, body } = await requestBuild(actionInputs({ "build-args": "RUN=5" }));
    const refusal = async (changed: object) => {
      const err = await client.createBuild({ ...body, ...changed }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DispatcherRequestError);
      const { status, body: answer, message } = err as DispatcherRequestError;
      expect(schemaProblems(ErrorSchema, answer)).toEqual([]);
      return { status, answer, message };
    };

    // What the Action's own checks would have caught: the dispatcher says the same, naming the input.
    const reserved = await refusal({ buildArgs: { TARGETOS: "windows" } });
    expect(reserved.status).toBe(400);
    expect(reserved.message).toBe('request the build: buildArgs.TARGETOS: "TARGETOS" is set by dockhand (input build-args); remove it: the builder sets it from the platform');
    expect(() => actionInputs({ "build-args": "TARGETOS=windows" })).toThrow('build-args[0]: "TARGETOS" is set by dockhand per platform; remove it');

    // What only the dispatcher knows, its policy: a 403 naming the rule.
    const denied = await refusal({ tags: ["ghcr.io/elsewhere/app:1"] });
    expect(denied.status).toBe(403);
    expect(denied.answer).toMatchObject({ field: "tags[0]", rule: expect.stringMatching(/^policy\.repositories\[0\]/) });
    expect(denied.message).toContain("(input tags)");
    expect(inputs.tags).toHaveLength(2);
  });
});
