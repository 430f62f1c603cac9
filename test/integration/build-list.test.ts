// GET /v1/builds on the bed: the Kubernetes executor's builds from its
// informer cache, filtered, paged and limited to what the credentials cover.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
