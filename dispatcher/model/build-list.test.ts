import { describe, expect, it } from "vitest";
import type { BuildState, PlatformState } from "../protocol/build-state.js";
import { parseBuildListQuery } from "../protocol/build-list.js";
import { selectBuilds } from "./build-list.js";

const sha = (c: string) => c.repeat(40);

function build(id: string, repository: string, createdAt: string, state: BuildState["state"] = "succeeded", builder: PlatformState["builder"] = "buildkit"): BuildState {
  return {
    id,
    repository,
    sha: sha(id.endsWith("x") ? "b" : "a"),
    ref: "refs/heads/main",
    targetUrl: "",
    state,
    platforms: [{ platform: "linux/amd64", slug: "linux-amd64", job: `${id}-linux`, builder, builderReason: "", statusContext: "dockhand/linux", state, createdAt }],
  };
}

const all = [
  build("b1", "octo-org/app", "2026-12-04T10:00:00Z"),
  build("b2", "octo-org/app", "2026-12-04T11:00:00Z", "failed", "docker"),
  build("b3", "Octo-Org/Other", "2026-12-04T12:00:00Z", "running"),
  build("b4x", "octo-org/app", "2026-12-04T12:00:00Z"),
  build("b5", "someone/else", "2026-12-04T13:00:00Z"),
];
const everyone = () => true;
const ids = (page: { builds: BuildState[] }) => page.builds.map((b) => b.id);

describe("selectBuilds", () => {
  it("lists newest first, ids breaking ties", () => {
    expect(ids(selectBuilds(all, parseBuildListQuery({}), everyone))).toEqual(["b5", "b4x", "b3", "b2", "b1"]);
  });

  it("filters by repository (any case), sha, state, builder and since", () => {
    expect(ids(selectBuilds(all, parseBuildListQuery({ repository: "OCTO-ORG/APP" }), everyone))).toEqual(["b4x", "b2", "b1"]);
    expect(ids(selectBuilds(all, parseBuildListQuery({ sha: sha("b") }), everyone))).toEqual(["b4x"]);
    expect(ids(selectBuilds(all, parseBuildListQuery({ state: "failed" }), everyone))).toEqual(["b2"]);
    expect(ids(selectBuilds(all, parseBuildListQuery({ builder: "docker" }), everyone))).toEqual(["b2"]);
    expect(ids(selectBuilds(all, parseBuildListQuery({ since: "2026-12-04T12:00:00Z" }), everyone))).toEqual(["b5", "b4x", "b3"]);
  });

  it("shows only what the credentials cover", () => {
    expect(ids(selectBuilds(all, parseBuildListQuery({}), (repo) => repo.toLowerCase().startsWith("octo-org/")))).toEqual(["b4x", "b3", "b2", "b1"]);
  });

  it("pages with a cursor until every build was shown once", () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = selectBuilds(all, parseBuildListQuery({ limit: "2", ...(cursor ? { cursor } : {}) }), everyone);
      seen.push(...ids(page));
      cursor = page.next;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(["b5", "b4x", "b3", "b2", "b1"]);
    expect(pages).toBe(3);
  });

  it("keeps its place when newer builds arrive between pages", () => {
    const first = selectBuilds(all, parseBuildListQuery({ limit: "2" }), everyone);
    const newer = [...all, build("b6", "octo-org/app", "2026-12-04T14:00:00Z")];
    expect(ids(selectBuilds(newer, parseBuildListQuery({ limit: "2", cursor: first.next! }), everyone))).toEqual(["b3", "b2"]);
  });
});

describe("parseBuildListQuery", () => {
  it.each([
    [{ repository: "not a repo" }, "query.repository"],
    [{ sha: "abc" }, "query.sha"],
    [{ state: "done" }, "query.state"],
    [{ builder: "kaniko" }, "query.builder"],
    [{ since: "yesterday" }, "query.since"],
    [{ since: "2026-12-04" }, "query.since"],
    [{ limit: "0" }, "query.limit"],
    [{ limit: "101" }, "query.limit"],
    [{ limit: "ten" }, "query.limit"],
    [{ cursor: "garbage!" }, "query.cursor"],
    [{ sha: [sha("a"), sha("b")] }, "query.sha"],
    [{ repo: "octo-org/app" }, "query.repo"],
  ])("refuses %j, naming %s and what to send", (raw, field) => {
    expect(() => parseBuildListQuery(raw)).toThrow(expect.objectContaining({ field, hint: expect.any(String) }));
  });

  it("takes a full query", () => {
    expect(parseBuildListQuery({ repository: "octo-org/app", sha: sha("a"), state: "running", builder: "docker", since: "2026-12-04T10:00:00+01:00", limit: "5" })).toEqual({
      repository: "octo-org/app",
      sha: sha("a"),
      state: "running",
      builder: "docker",
      since: Date.parse("2026-12-04T09:00:00Z"),
      limit: 5,
    });
  });
});
