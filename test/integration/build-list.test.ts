// GET /v1/builds on the bed: the Kubernetes executor's builds from its
// informer cache, filtered, paged and limited to what the credentials cover;
// and the `dockhand` CLI (builds, logs, cancel) against the same dispatcher.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../dispatcher/cli/cli.js";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { type Bed, bedSharedSecret, buildRequest, ctx, postBuild, setUpBed, signedFetch, startBedDispatcher, uploadContext } from "./harness.js";

const scopedSecret = "scoped-secret-0123456789abcdef0123456789abcdef";
const repoA = "octo-org/windows-app";
const repoB = "other-org/service";
const shaOf = (c: string) => c.repeat(40);

let bed: Bed;
let dispatcher: Dispatcher;
const ids: Record<string, string> = {};

async function list(query = "", secret = bedSharedSecret): Promise<{ status: number; body: any }> {
  const res = await signedFetch(`${dispatcher.url}/v1/builds${query}`, {}, secret);
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  bed = await setUpBed("dh-list");
  dispatcher = await startBedDispatcher(bed, (config) => ({
    ...config,
    auth: { ...config.auth, sharedSecrets: [...config.auth.sharedSecrets, { name: "scoped", secret: scopedSecret, repositories: [repoA] }] },
  }));
  const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY hello.txt /hello.txt\n`, { "hello.txt": "hi\n" }));
  // One after another, so creation times (and the newest-first order) are certain.
  for (const [name, repository, sha] of [["a1", repoA, shaOf("a")], ["b1", repoB, shaOf("b")], ["a2", repoA, shaOf("c")]] as const) {
    const res = await postBuild(dispatcher.url, buildRequest(context, { repository, sha, platforms: ["linux/amd64"], push: false, idempotencyKey: `list/${name}` }));
    expect(res.status).toBe(202);
    ids[name] = res.body.id;
    await new Promise((resolve) => setTimeout(resolve, 1100));
  }
  // The list reads the informers' cache, which follows the API server closely but not instantly.
  for (let tries = 0; (await list()).body.builds?.length !== 3; tries++) {
    if (tries > 60) throw new Error("the three builds never all showed in GET /v1/builds");
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}, 120_000);

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

const idsOf = (body: { builds: { id: string }[] }) => body.builds.map((b) => b.id);

describe("GET /v1/builds", () => {
  it("lists every build the credentials cover, newest first, each with its URLs", async () => {
    const { status, body } = await list();
    expect(status).toBe(200);
    expect(idsOf(body)).toEqual([ids.a2, ids.b1, ids.a1]);
    expect(body.builds[0]).toMatchObject({ repository: repoA, sha: shaOf("c"), url: `${dispatcher.config.publicUrl}/v1/builds/${ids.a2}` });
    expect(body.next).toBeUndefined();
  });

  it("filters by repository, sha, builder and since", async () => {
    expect(idsOf((await list(`?repository=${repoA.toUpperCase()}`)).body)).toEqual([ids.a2, ids.a1]);
    expect(idsOf((await list(`?sha=${shaOf("b")}`)).body)).toEqual([ids.b1]);
    expect(idsOf((await list("?builder=buildkit")).body)).toHaveLength(3);
    expect(idsOf((await list("?builder=docker")).body)).toEqual([]);
    expect(idsOf((await list(`?since=${new Date(Date.now() + 60_000).toISOString()}`)).body)).toEqual([]);
  });

  it("filters by state once the builds are through", async () => {
    await expect.poll(async () => idsOf((await list("?state=succeeded")).body).length, { timeout: 120_000, interval: 1000 }).toBe(3);
    expect(idsOf((await list("?state=running")).body)).toEqual([]);
  }, 150_000);

  it("pages with the cursor it gives out", async () => {
    const first = await list("?limit=2");
    expect(idsOf(first.body)).toEqual([ids.a2, ids.b1]);
    expect(first.body.next).toEqual(expect.any(String));
    const second = await list(`?limit=2&cursor=${first.body.next}`);
    expect(idsOf(second.body)).toEqual([ids.a1]);
    expect(second.body.next).toBeUndefined();
  });

  it("shows a scoped secret only its repositories, and refuses a filter for another", async () => {
    expect(idsOf((await list("", scopedSecret)).body)).toEqual([ids.a2, ids.a1]);
    const other = await list(`?repository=${repoB}`, scopedSecret);
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ field: "query.repository", hint: expect.stringContaining(repoB) });
  });

  it("needs credentials, and names a wrong filter with what to send", async () => {
    expect((await fetch(`${dispatcher.url}/v1/builds`)).status).toBe(401);
    const wrong = await list("?limit=1000");
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ field: "query.limit", hint: expect.stringContaining("1 to 100") });
    const unknown = await list("?repo=octo-org/windows-app");
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ field: "query.repo" });
  });
});

/** The CLI in-process, against the real dispatcher: what it printed and its exit code. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env: { DOCKHAND_URL: dispatcher.url, DOCKHAND_SHARED_SECRET: bedSharedSecret, ...env }, out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("the dockhand CLI", () => {
  it("lists builds as a table and as JSON, following pages with --all", async () => {
    const table = await cli(["builds", "--repository", repoA]);
    expect(table.code).toBe(0);
    const lines = table.out.split("\n");
    expect(lines[0]).toMatch(/^ID\s+STATE\s+REPOSITORY\s+SHA\s+PLATFORMS\s+CREATED\s+DURATION$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([ids.a2, ids.a1]);
    expect(lines[1]).toContain("linux-amd64(buildkit)");

    const paged = await cli(["builds", "--limit", "1", "--all", "--output", "json"]);
    expect(paged.code).toBe(0);
    expect(JSON.parse(paged.out).builds.map((b: { id: string }) => b.id)).toEqual([ids.a2, ids.b1, ids.a1]);

    const onePage = await cli(["builds", "--limit", "1"]);
    expect(onePage.out).toMatch(/more: dockhand builds --cursor \S+ \(or --all\)/);
  });

  it("prints a build's log lines and exits with its result", async () => {
    await expect.poll(async () => (await list(`?sha=${shaOf("a")}&state=succeeded`)).body.builds.length, { timeout: 120_000 }).toBe(1);
    const logs = await cli(["logs", ids.a1!]);
    expect(logs.code).toBe(0);
    expect(logs.out).toMatch(/^linux\/amd64 build \| /m);
    expect(logs.err).toContain(`build ${ids.a1}: succeeded`);
  }, 150_000);

  it("cancels a build", async () => {
    // A step that outlasts the test: the build is still running when cancelled.
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN sleep 300\n`));
    const res = await postBuild(dispatcher.url, buildRequest(context, { sha: shaOf("d"), platforms: ["linux/amd64"], push: false, idempotencyKey: "list/cancel" }));
    expect(res.status).toBe(202);
    const cancelled = await cli(["cancel", res.body.id, "--output", "json"]);
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.out)).toMatchObject({ id: res.body.id });
    await expect.poll(async () => (await cli(["builds", "--sha", shaOf("d"), "--output", "json"])).out, { timeout: 30_000 }).toContain('"state": "cancelled"');
  }, 60_000);

  it("says what to fix: no dispatcher, a wrong filter, an unknown command, a scoped secret", async () => {
    const noUrl = await runCli(["builds"], { env: {}, out: () => undefined, err: (t) => expect(t).toContain("pass --url") });
    expect(noUrl).toBe(2);
    const wrong = await cli(["builds", "--limit", "1000"]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("limit");
    expect((await cli(["bulids"])).code).toBe(2);
    const scoped = await cli(["builds", "--repository", repoB], { DOCKHAND_SHARED_SECRET: scopedSecret });
    expect(scoped.code).toBe(1);
    expect(scoped.err).toContain(repoB);
  });

  it("runs as a command (npm run dockhand)", async () => {
    const { stdout } = await promisify(execFile)("npx", ["tsx", "dispatcher/cli/main.ts", "builds", "--output", "json", "--repository", repoB], {
      env: { ...process.env, DOCKHAND_URL: dispatcher.url, DOCKHAND_SHARED_SECRET: bedSharedSecret },
    });
    expect(JSON.parse(stdout).builds.map((b: { id: string }) => b.id)).toEqual([ids.b1]);
  }, 60_000);
});
