// GitHub webhooks on the real bed, with GitHub's own published example
// payloads (@octokit/webhooks-examples) pointed at this test's repository,
// pull requests and runs, and signed with the webhook secret as GitHub signs
// them. They cancel exactly the builds they name; a replayed delivery does
// nothing; a bad signature is refused.
import { Webhooks } from "@octokit/webhooks";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRequest, cancelBuild, ctx, dockerPoolWithoutLtsc2025Nodes, postBuild, uploadContext } from "../integration/harness.js";
import { repository, type SecureBed, sha, startSecureBed, webhookSecret } from "./secure-bed.js";

// The package's main is a JSON file (api.github.com/index.json): every documented event with its examples.
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as { name: string; examples: any[] }[];

let sb: SecureBed;
let pending = "";
const started: string[] = [];
const signer = new Webhooks({ secret: webhookSecret });
const noOptIn = "octo-org/no-opt-in";

/** A deep copy of GitHub's example payload for this event and action. */
function example(name: string, pick: (payload: any) => boolean): any {
  const definition = examples.find((d) => d.name === name);
  const payload = definition?.examples.find(pick);
  if (!payload) throw new Error(`@octokit/webhooks-examples has no ${name} example that fits`);
  return structuredClone(payload);
}

/** The example's repository replaced by ours, everywhere the payload names it. */
function inRepository(payload: any, full: string): any {
  const [owner, name] = full.split("/");
  payload.repository = { ...payload.repository, full_name: full, name, owner: { ...payload.repository.owner, login: owner } };
  return payload;
}

async function deliver(event: string, payload: unknown, options: { delivery?: string; secret?: string; signature?: string | null } = {}) {
  const body = JSON.stringify(payload);
  const signature = options.signature === null ? undefined : (options.signature ?? (await (options.secret ? new Webhooks({ secret: options.secret }) : signer).sign(body)));
  const started_ = performance.now();
  const res = await fetch(`${sb.dispatcher.url}/webhooks/github`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": options.delivery ?? randomUUID(),
      "user-agent": "GitHub-Hookshot/044aadd",
      ...(signature ? { "x-hub-signature-256": signature } : {}),
    },
    body,
  });
  return { status: res.status, body: await res.json(), ms: performance.now() - started_, raw: body };
}

/** A build that stays queued (no node of its ltsc2025 pool) until something cancels it. */
async function startBuild(key: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const res = await postBuild(sb.dispatcher.url, buildRequest(pending, { platforms: ["windows/amd64:ltsc2025"], tags: [`${sb.bed.env.REGISTRY}/bed/hooks:${key.replace(/[^A-Za-z0-9_.-]/g, "-")}`], idempotencyKey: key, ...overrides }));
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  started.push(res.body.id);
  return res.body.id;
}

async function stateOf(id: string): Promise<string> {
  const res = await fetch(`${sb.dispatcher.url}/v1/builds/${id}`);
  if (res.status === 404) return "gone";
  const build = await res.json();
  return build.platforms.some((p: { message?: string; state: string }) => p.state === "cancelled") ? "cancelled" : build.state;
}

const cancelledOrGone = (id: string) => expect.poll(() => stateOf(id), { timeout: 30_000, interval: 250 }).toMatch(/^(cancelled|gone)$/);

/** Nothing is left to do: the delivery was handled (or dropped) and the build still waits. */
async function stillQueued(id: string) {
  await new Promise((r) => setTimeout(r, 3_000));
  expect(await stateOf(id)).toBe("queued");
}

beforeAll(async () => {
  sb = await startSecureBed(
    "dh-sec-hooks",
    [
      { repository, imagePrefixes: ["127.0.0.1:15000"], dockerPool: { refs: ["*"] }, cancelSupersededBuilds: true },
      { repository: "octo-org/*", imagePrefixes: ["127.0.0.1:15000"], dockerPool: { refs: ["*"] } },
    ],
    { limits: { unschedulableAfterSeconds: 3600, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 600 }, dockerPool: dockerPoolWithoutLtsc2025Nodes() },
  );
  for (const number of [21, 22, 23, 24]) {
    sb.github.pulls.set(`${repository}#${number}`, repository);
    sb.github.pulls.set(`${noOptIn}#${number}`, noOptIn);
  }
  pending = await uploadContext(sb.dispatcher.url, ctx(`FROM ${sb.bed.env.LINUX_BASE_IMAGE}\nRUN echo waits-for-a-2025-node\n`));
});

afterAll(async () => {
  for (const id of started) await cancelBuild(sb.dispatcher.url, id).catch(() => undefined);
  await sb?.close();
});

describe("pull_request closed", () => {
  it("cancels the builds of that pull request only, after answering at once; the same delivery again does nothing", async () => {
    const ofPr21 = await startBuild("hooks/pr-21", { ref: "refs/pull/21/merge" });
    const ofPr22 = await startBuild("hooks/pr-22", { ref: "refs/pull/22/merge" });
    const payload = inRepository(example("pull_request", (p) => p.action === "closed"), repository);
    payload.number = 21;
    payload.pull_request.number = 21;
    payload.pull_request.closed_at = new Date().toISOString();
    const delivery = randomUUID();

    const first = await deliver("pull_request", payload, { delivery });
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ delivery, status: "accepted" });
    // GitHub gives up on a delivery after 10 s; the cancel work happens after the answer.
    expect(first.ms).toBeLessThan(10_000);
    await cancelledOrGone(ofPr21);
    expect(await stateOf(ofPr22)).toBe("queued");

    // A new build of the pull request (reopened), then the old delivery replayed: by id, and by body under a new id.
    const again = await startBuild("hooks/pr-21-reopened", { ref: "refs/pull/21/merge" });
    const replayed = await deliver("pull_request", payload, { delivery });
    expect(replayed.status).toBe(200);
    expect(replayed.body.status).toBe("duplicate");
    const resent = await deliver("pull_request", payload, { delivery: randomUUID() });
    expect(resent.body.status).toBe("duplicate");
    await stillQueued(again);
  });

  it("refuses a delivery with a wrong or missing signature, and cancels nothing", async () => {
    const ofPr22 = await startBuild("hooks/pr-22-b", { ref: "refs/pull/22/merge" });
    const payload = inRepository(example("pull_request", (p) => p.action === "closed"), repository);
    payload.number = 22;
    payload.pull_request.closed_at = new Date().toISOString();

    const wrong = await deliver("pull_request", payload, { secret: "not-the-webhook-secret-at-all" });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ field: "x-hub-signature-256", error: "x-hub-signature-256: does not match the payload" });
    const missing = await deliver("pull_request", payload, { signature: null });
    expect(missing.status).toBe(401);
    expect(missing.body.error).toBe("x-hub-signature-256: is missing");
    // A signature of another body (a captured delivery with its payload changed).
    const other = await deliver("pull_request", payload, { signature: await signer.sign(JSON.stringify({ ...payload, number: 999 })) });
    expect(other.status).toBe(401);
    await stillQueued(ofPr22);
  });
});

describe("pull_request synchronize", () => {
  it("cancels the previous head's builds where the repository opts in", async () => {
    const oldHead = "a".repeat(40);
    const byHead = await startBuild("hooks/pr-23-head", { ref: "refs/heads/feature", sha: oldHead });
    const byMergeCommit = await startBuild("hooks/pr-23-merge", { ref: "refs/pull/23/merge" });
    const otherPr = await startBuild("hooks/pr-24-merge", { ref: "refs/pull/24/merge" });
    const payload = inRepository(example("pull_request", (p) => p.action === "synchronize"), repository);
    payload.number = 23;
    payload.before = oldHead;
    payload.after = "b".repeat(40);
    // The push happened just now; builds of the new head come after it.
    payload.pull_request.updated_at = new Date(Date.now() + 60_000).toISOString();

    expect((await deliver("pull_request", payload)).status).toBe(202);
    await cancelledOrGone(byHead);
    await cancelledOrGone(byMergeCommit);
    expect(await stateOf(otherPr)).toBe("queued");
  });

  it("cancels nothing where the repository has not opted in", async () => {
    const build = await startBuild("hooks/no-opt-in", { repository: noOptIn, ref: "refs/pull/23/merge" });
    const payload = inRepository(example("pull_request", (p) => p.action === "synchronize"), noOptIn);
    payload.number = 23;
    payload.before = sha;
    payload.pull_request.updated_at = new Date(Date.now() + 60_000).toISOString();
    expect((await deliver("pull_request", payload)).status).toBe(202);
    await stillQueued(build);
  });
});

describe("cancelled workflow runs and jobs", () => {
  it("workflow_run completed as cancelled cancels the builds of that run attempt only", async () => {
    const attempt1 = await startBuild("5551/1/build/image");
    const attempt2 = await startBuild("5551/2/build/image");
    const otherRun = await startBuild("5552/1/build/image");
    const succeeded = inRepository(example("workflow_run", (p) => p.action === "completed" && p.workflow_run.conclusion === "success"), repository);
    succeeded.workflow_run.id = 5551;
    succeeded.workflow_run.run_attempt = 1;
    expect((await deliver("workflow_run", succeeded)).status).toBe(202);
    await stillQueued(attempt1);

    // GitHub's examples have no cancelled run: the same payload, concluded as GitHub does when a run is cancelled.
    const cancelled = structuredClone(succeeded);
    cancelled.workflow_run.conclusion = "cancelled";
    cancelled.workflow_run.status = "completed";
    expect((await deliver("workflow_run", cancelled)).status).toBe(202);
    await cancelledOrGone(attempt1);
    expect(await stateOf(attempt2)).toBe("queued");
    expect(await stateOf(otherRun)).toBe("queued");
  });

  it("workflow_job completed as cancelled cancels the builds of its run", async () => {
    const build = await startBuild("5553/1/build/image");
    const job = inRepository(example("workflow_job", (p) => p.action === "completed" && p.workflow_job.conclusion === "failure"), repository);
    job.workflow_job.run_id = 5553;
    job.workflow_job.run_attempt = 1;
    job.workflow_job.conclusion = "cancelled";
    expect((await deliver("workflow_job", job)).status).toBe(202);
    await cancelledOrGone(build);
  });
});

describe("other deliveries", () => {
  it("acknowledges events it does not handle and cancels nothing", async () => {
    const build = await startBuild("5554/1/build/image", { ref: "refs/pull/24/merge" });
    const opened = inRepository(example("pull_request", (p) => p.action === "opened"), repository);
    opened.number = 24;
    expect((await deliver("pull_request", opened)).status).toBe(202);
    const ping = { zen: "Keep it logically awesome.", hook_id: 1, repository: { full_name: repository } };
    expect((await deliver("ping", ping)).status).toBe(202);
    await stillQueued(build);
  });

  it("refuses a payload that is not JSON with 415", async () => {
    const res = await fetch(`${sb.dispatcher.url}/webhooks/github`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-github-event": "ping", "x-github-delivery": randomUUID(), "x-hub-signature-256": await signer.sign("payload=%7B%7D") },
      body: "payload=%7B%7D",
    });
    expect(res.status).toBe(415);
  });
});
