import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createGzip, gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type EntryHeader, entryProblem } from "../../../dispatcher/contexts/archive-check.js";
import { ContextStore } from "../../../dispatcher/contexts/context-store.js";
import { ContextError } from "../../../dispatcher/contexts/errors.js";
import { sha256Of, tarGz } from "./tar-fixture.js";

describe("entryProblem", () => {
  it.each<[string, EntryHeader]>([
    ["Dockerfile", { name: "Dockerfile", type: "file" }],
    ["./src/main.c", { name: "./src/main.c", type: "file" }],
    ["a directory", { name: "src/", type: "directory" }],
    ["a file named with two dots", { name: "src/..hidden", type: "file" }],
    ["a symlink to a sibling", { name: "docker/Dockerfile", type: "symlink", linkname: "Dockerfile.real" }],
    ["a symlink up and back in", { name: "a/b/link", type: "symlink", linkname: "../../c/file" }],
    ["a hard link to another entry", { name: "copy", type: "link", linkname: "src/main.c" }],
  ])("accepts %s", (_name, header) => {
    expect(entryProblem(header)).toBeUndefined();
  });

  it.each<[string, EntryHeader, string]>([
    ["an absolute name", { name: "/etc/passwd", type: "file" }, 'entry "/etc/passwd" is an absolute path'],
    ["a drive-letter name", { name: "C:/Windows/win.ini", type: "file" }, "is an absolute path"],
    ["a backslash-rooted name", { name: "\\Windows\\win.ini", type: "file" }, "is an absolute path"],
    ["a name climbing out", { name: "../x", type: "file" }, 'entry "../x" leaves the context with ".."'],
    ["a name climbing out midway", { name: "a/../../x", type: "file" }, 'leaves the context with ".."'],
    ["a name climbing out with backslashes", { name: "a\\..\\..\\x", type: "file" }, 'leaves the context with ".."'],
    ["an empty name", { name: "", type: "file" }, "has an empty name"],
    ["a character device", { name: "dev/null", type: "character-device" }, "is a character-device"],
    ["a FIFO", { name: "pipe", type: "fifo" }, "is a fifo"],
    ["a symlink to an absolute path", { name: "s", type: "symlink", linkname: "/etc/passwd" }, 'symlink "s" points to "/etc/passwd", an absolute path'],
    ["a symlink to a drive", { name: "s", type: "symlink", linkname: "C:\\Windows" }, "an absolute path"],
    ["a symlink climbing out", { name: "a/s", type: "symlink", linkname: "../../etc" }, "outside the context"],
    ["a symlink climbing out with backslashes", { name: "s", type: "symlink", linkname: "..\\x" }, "outside the context"],
    ["a symlink to the parent of the root", { name: "s", type: "symlink", linkname: ".." }, "outside the context"],
    ["an empty symlink", { name: "s", type: "symlink", linkname: "" }, "an empty target"],
    ["a hard link to an absolute path", { name: "h", type: "link", linkname: "/etc/shadow" }, 'hard link "h" points to "/etc/shadow", an absolute path'],
    ["a hard link climbing out", { name: "h", type: "link", linkname: "../outside" }, "outside the context"],
  ])("refuses %s", (_name, header, message) => {
    const problem = entryProblem(header);
    expect(problem?.problem).toContain(message);
    expect(problem?.hint).toBeTruthy();
  });

  it("follows earlier symlinks: a link that is inside lexically but outside through another link", () => {
    // x/up → .. (that is the root: inside); then y → x/up/.. climbs above the root.
    const symlinks = new Map([["x/up", ".."]]);
    expect(entryProblem({ name: "x/up", type: "symlink", linkname: ".." })).toBeUndefined();
    expect(entryProblem({ name: "y", type: "symlink", linkname: "x/up/.." }, symlinks)?.problem).toContain("outside the context");
    expect(entryProblem({ name: "z", type: "link", linkname: "x/up/../escape" }, symlinks)?.problem).toContain("outside the context");
  });

  it("refuses a chain of links that never ends", () => {
    const symlinks = new Map([["a", "b"], ["b", "a"]]);
    expect(entryProblem({ name: "c", type: "symlink", linkname: "a/x" }, symlinks)?.problem).toContain("chain of more than 40 links");
  });
});

describe("ContextStore.put checks the archive as it streams in", () => {
  let dir: string;
  let store: ContextStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "dockhand-archive-check-"));
    store = await ContextStore.create({ dir, ttlSeconds: 3600 });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function refused(body: Buffer | Readable, digest: string, maxUnpackedBytes = 1 << 20): Promise<ContextError> {
    const stream = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    const error = await store.put(digest, stream, { maxBytes: 64 << 20, maxUnpackedBytes }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ContextError);
    expect(await readdir(dir)).toEqual([]);
    return error as ContextError;
  }

  it("stores a context with links that stay inside", async () => {
    const archive = await tarGz([
      { name: "Dockerfile", content: "FROM scratch\n" },
      { name: "docker/", type: "directory" },
      { name: "docker/Dockerfile", type: "symlink", linkname: "../Dockerfile" },
      { name: "copy", type: "link", linkname: "Dockerfile" },
    ]);
    const result = await store.put(sha256Of(archive), Readable.from([archive]), { maxBytes: 1 << 20, maxUnpackedBytes: 1 << 20 });
    expect(result.created).toBe(true);
  });

  it.each<[string, Parameters<typeof tarGz>[0], string]>([
    ["a ../ entry", [{ name: "Dockerfile", content: "FROM scratch" }, { name: "../evil", content: "x" }], 'entry "../evil" leaves the context'],
    ["an absolute entry", [{ name: "/etc/cron.d/evil", content: "x" }], 'entry "/etc/cron.d/evil" is an absolute path'],
    ["an escaping symlink", [{ name: "s", type: "symlink", linkname: "../../../etc" }], 'symlink "s" points to "../../../etc", outside the context'],
    ["an escaping hard link", [{ name: "h", type: "link", linkname: "/etc/passwd" }], 'hard link "h" points to "/etc/passwd", an absolute path'],
  ])("refuses %s with invalid-path naming the entry, storing nothing", async (_name, entries, message) => {
    const archive = await tarGz(entries);
    const error = await refused(archive, sha256Of(archive));
    expect(error.code).toBe("invalid-path");
    expect(error.message).toContain(message);
  });

  it("stops a gzip bomb at maxUnpackedBytes without reading it to the end", async () => {
    // 1 GiB of zeros gzipped lazily: about 1 MiB on the wire.
    const gzip = createGzip();
    let fed = 0;
    const zeros = Buffer.alloc(1 << 20);
    const feed = (): void => {
      while (fed < 1024) {
        fed++;
        if (!gzip.write(zeros)) {
          gzip.once("drain", feed);
          return;
        }
      }
      gzip.end();
    };
    feed();
    const error = await refused(gzip, sha256Of(Buffer.from("unknown")), 8 << 20);
    expect(error.code).toBe("too-large");
    expect(error.message).toContain("unpacks to more than the 8388608-byte limit (contexts.maxUnpackedBytes)");
    expect(fed).toBeLessThan(1024);
  });

  it("reports a truncated archive as not matching its digest", async () => {
    const archive = await tarGz([{ name: "Dockerfile", content: "FROM scratch\n".repeat(100) }]);
    const error = await refused(archive.subarray(0, archive.length - 20), sha256Of(archive));
    expect(error.code).toBe("digest-mismatch");
  });

  it.each([
    ["bytes that are not gzip", Buffer.from("definitely not gzip")],
    ["gzip that is not tar", gzipSync(Buffer.from("hello ".repeat(200)))],
    ["a tar cut short inside a whole gzip", gzipSync(Buffer.alloc(700, 1))],
  ])("refuses %s with its digest right as invalid-archive", async (_name, bytes) => {
    const error = await refused(bytes, sha256Of(bytes));
    expect(error.code).toBe("invalid-archive");
    expect(error.message).toContain("is not a readable tar.gz");
  });
});
