import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ContextStore } from "../../../dispatcher/contexts/context-store.js";
import { ContextError } from "../../../dispatcher/contexts/errors.js";
import { sha256Of, tarGz } from "./tar-fixture.js";

let dir: string;
let store: ContextStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "dockhand-contexts-"));
  store = await ContextStore.create({ dir, ttlSeconds: 3600 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function caught(promise: Promise<unknown>): Promise<ContextError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ContextError);
  return error as ContextError;
}

/** Splits a buffer into small chunks so the store sees a real stream. */
function chunked(bytes: Buffer, size = 1024): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

/** What put() leaves for one context: the archive under its digest, and its Dockerfiles index beside it. */
const storedNames = (digest: string) => [digest.slice(7), `${digest.slice(7)}.dockerfiles.json`];

describe("ContextStore.put", () => {
  it("stores an upload under its digest and streams it back", async () => {
    const archive = await tarGz([{ name: "Dockerfile", content: "FROM scratch\n" }]);
    const digest = sha256Of(archive);

    expect(await store.has(digest)).toBe(false);
    const result = await store.put(digest, chunked(archive), { maxBytes: 1 << 20, maxUnpackedBytes: 1 << 24 });

    expect(result).toEqual({ digest, size: archive.length, created: true });
    expect(await store.has(digest)).toBe(true);
    expect(await store.has(digest.slice("sha256:".length))).toBe(true);
    expect(await readAll(await store.open(digest))).toEqual(archive);
    expect((await readdir(dir)).sort()).toEqual(storedNames(digest));
  });

  it("refuses an upload whose bytes do not hash to the digest, naming both, and leaves no file", async () => {
    const archive = await tarGz([{ name: "Dockerfile", content: "FROM scratch\n" }]);
    const claimed = sha256Of(Buffer.from("something else"));

    const error = await caught(store.put(claimed, chunked(archive), { maxBytes: 1 << 20, maxUnpackedBytes: 1 << 24 }));

    expect(error.code).toBe("digest-mismatch");
    expect(error.digests).toEqual({ expected: claimed, actual: sha256Of(archive) });
    expect(error.message).toContain(`expected ${claimed}, got ${sha256Of(archive)}`);
    expect(await readdir(dir)).toEqual([]);
    expect(await store.has(claimed)).toBe(false);
  });

  it("aborts an over-size upload while streaming, without reading the rest or leaving files", async () => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    let pulled = 0;
    // 64 MiB on offer, 1 MiB allowed: the store must stop pulling near the limit.
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 1024; i++) {
          pulled += chunk.length;
          yield chunk;
        }
      })(),
    );

    const error = await caught(store.put(sha256Of(Buffer.from("x")), body, { maxBytes: 1 << 20, maxUnpackedBytes: 1 << 24 }));

    expect(error.code).toBe("too-large");
    expect(error.message).toContain("1048576-byte upload limit");
    expect(pulled).toBeLessThan(4 << 20);
    expect(body.destroyed).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it("accepts an upload of exactly maxBytes", async () => {
    const archive = await tarGz([{ name: "Dockerfile", content: "FROM scratch\n" }]);
    const result = await store.put(sha256Of(archive), chunked(archive), { maxBytes: archive.length, maxUnpackedBytes: 1 << 24 });
    expect(result.created).toBe(true);
  });

  it("stores concurrent uploads of the same digest once; the others are no-ops", async () => {
    const archive = await tarGz([{ name: "Dockerfile", content: "FROM scratch\n".repeat(5000) }]);
    const digest = sha256Of(archive);

    const results = await Promise.all(
      Array.from({ length: 6 }, () => store.put(digest, chunked(archive, 512), { maxBytes: 1 << 20, maxUnpackedBytes: 1 << 24 })),
    );

    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(results.every((r) => r.digest === digest && r.size === archive.length)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(storedNames(digest));
    expect(await readAll(await store.open(digest))).toEqual(archive);
  });

  it("treats a later upload of a stored digest as a no-op", async () => {
    const archive = await tarGz([{ name: "Dockerfile", content: "FROM scratch\n" }]);
    const digest = sha256Of(archive);
    await store.put(digest, chunked(archive), { maxBytes: 1 << 20, maxUnpackedBytes: 1 << 24 });
    const again = await store.put(digest, chunked(archive), { maxBytes: 1 << 20, maxUnpackedBytes: 1 << 24 });
    expect(again.created).toBe(false);
    expect((await readdir(dir)).sort()).toEqual(storedNames(digest));
  });

  it.each([["sha256:ABC"], ["md5:0123"], ["sha256:" + "0".repeat(63)], ["../" + "0".repeat(64)]])(
    "rejects the malformed digest %j before reading anything",
    async (digest) => {
      const error = await caught(store.put(digest, Readable.from([Buffer.from("x")]), { maxBytes: 10, maxUnpackedBytes: 1 << 24 }));
      expect(error.code).toBe("invalid-digest");
    },
  );
});

describe("ContextStore.open", () => {
  it("names the digest when the context is not stored", async () => {
    const digest = sha256Of(Buffer.from("never uploaded"));
    const error = await caught(store.open(digest));
    expect(error.code).toBe("not-found");
    expect(error.message).toContain(digest);
  });
});

describe("ContextStore.readFile", () => {
  async function stored(entries: Parameters<typeof tarGz>[0]): Promise<string> {
    const archive = await tarGz(entries);
    const digest = sha256Of(archive);
    await store.put(digest, chunked(archive), { maxBytes: 1 << 22, maxUnpackedBytes: 1 << 24 });
    return digest;
  }

  /**
   * Writes an archive straight into the store, as put() would have before it
   * checked entries: readFile keeps its own defences for contexts stored then.
   */
  async function placed(archive: Buffer): Promise<string> {
    const digest = sha256Of(archive);
    await writeFile(join(dir, digest.slice("sha256:".length)), archive);
    return digest;
  }

  it("answers a Dockerfile from the index the upload's check wrote, without opening the archive again", async () => {
    const digest = await stored([
      { name: "./Dockerfile", content: "FROM linux\n" },
      { name: "./build/windows/Dockerfile.ltsc2022", content: "FROM windows\n" },
      { name: "./src/main.c", content: "int main(){}" },
    ]);
    // The stored archive made unreadable: only the index can answer now.
    await writeFile(join(dir, digest.slice(7)), "not a tar.gz any more");
    expect((await store.readFile(digest, "Dockerfile")).toString()).toBe("FROM linux\n");
    expect((await store.readFile(digest, "./build//windows/Dockerfile.ltsc2022")).toString()).toBe("FROM windows\n");
    // A name the index does not keep is read from the archive, as before.
    expect((await caught(store.readFile(digest, "src/main.c"))).code).toBe("invalid-archive");
  });

  it("reads a context stored before indexes from its archive", async () => {
    const archive = await tarGz([{ name: "Dockerfile", content: "FROM old\n" }]);
    const digest = await placed(archive);
    expect((await store.readFile(digest, "Dockerfile")).toString()).toBe("FROM old\n");
  });

  it("extracts a nested Dockerfile from among other entries", async () => {
    const digest = await stored([
      { name: "./", type: "directory" },
      { name: "./README.md", content: "readme" },
      { name: "./Dockerfile", content: "FROM linux\n" },
      { name: "./build/", type: "directory" },
      { name: "./build/windows/", type: "directory" },
      { name: "./build/windows/Dockerfile", content: "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN echo hi\n" },
      { name: "./src/main.c", content: "int main(){}" },
    ]);

    const text = (await store.readFile(digest, "build/windows/Dockerfile")).toString("utf8");
    expect(text).toBe("FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN echo hi\n");
    expect((await store.readFile(digest, "./build//windows/Dockerfile")).toString()).toBe(text);
    expect((await store.readFile(digest, "Dockerfile")).toString()).toBe("FROM linux\n");
  });

  it("names the missing path and suggests a few similar files, not the whole listing", async () => {
    const many = Array.from({ length: 400 }, (_, i) => ({ name: `src/file-${i}.txt`, content: "x" }));
    const digest = await stored([
      ...many,
      { name: "docker/Dockerfile", content: "FROM a" },
      { name: "Dockerfile.windows", content: "FROM b" },
    ]);

    const error = await caught(store.readFile(digest, "build/Dockerfile"));

    expect(error.code).toBe("file-not-found");
    expect(error.message).toContain('"build/Dockerfile" not found');
    expect(error.message).toContain("402 files");
    expect(error.message).toContain("similar: docker/Dockerfile, Dockerfile.windows");
    expect(error.message).not.toContain("file-7.txt");
    expect(error.message.length).toBeLessThan(300);
  });

  it.each([
    ["../Dockerfile"],
    ["build/../../Dockerfile"],
    ["/etc/passwd"],
    ["C:/Windows/win.ini"],
    ["build\\Dockerfile"],
    [""],
    ["."],
    ["Docker\0file"],
  ])("rejects the path %j as invalid", async (path) => {
    const digest = await stored([{ name: "Dockerfile", content: "FROM a" }]);
    const error = await caught(store.readFile(digest, path));
    expect(error.code).toBe("invalid-path");
  });

  it("never matches an archive entry that itself climbs out of the root", async () => {
    const digest = await placed(await tarGz([{ name: "../Dockerfile", content: "FROM evil" }]));
    const error = await caught(store.readFile(digest, "Dockerfile"));
    expect(error.code).toBe("file-not-found");
  });

  it("follows a symlink inside the context", async () => {
    const digest = await stored([
      { name: "Dockerfile", type: "symlink", linkname: "docker/Dockerfile.real" },
      { name: "docker/Dockerfile.real", content: "FROM real" },
    ]);
    expect((await store.readFile(digest, "Dockerfile")).toString()).toBe("FROM real");
  });

  it("follows a symlink to an entry earlier in the archive", async () => {
    const digest = await stored([
      { name: "docker/Dockerfile.real", content: "FROM earlier" },
      { name: "docker/Dockerfile", type: "symlink", linkname: "Dockerfile.real" },
    ]);
    expect((await store.readFile(digest, "docker/Dockerfile")).toString()).toBe("FROM earlier");
  });

  it("refuses a symlink that points outside the context", async () => {
    const digest = await placed(await tarGz([{ name: "sub/Dockerfile", type: "symlink", linkname: "../../etc/passwd" }]));
    const error = await caught(store.readFile(digest, "sub/Dockerfile"));
    expect(error.code).toBe("invalid-path");
    expect(error.message).toContain("outside the context");
  });

  it("refuses a symlink loop instead of spinning", async () => {
    const digest = await stored([
      { name: "a", type: "symlink", linkname: "b" },
      { name: "b", type: "symlink", linkname: "a" },
    ]);
    const error = await caught(store.readFile(digest, "a"));
    expect(error.code).toBe("invalid-path");
  });

  it("refuses a file larger than the limit without reading it", async () => {
    const digest = await stored([{ name: "Dockerfile", content: "#".repeat(5000) }]);
    const error = await caught(store.readFile(digest, "Dockerfile", { maxBytes: 4096 }));
    expect(error.code).toBe("file-too-large");
    expect(error.message).toContain("5000 bytes");
  });

  it("refuses a directory named like the file", async () => {
    const digest = await stored([{ name: "Dockerfile/", type: "directory" }]);
    const error = await caught(store.readFile(digest, "Dockerfile"));
    expect(error.code).toBe("invalid-path");
    expect(error.message).toContain("is a directory");
  });

  it("reports a stored blob that is not a tar.gz", async () => {
    const digest = await placed(Buffer.from("definitely not gzip"));
    const error = await caught(store.readFile(digest, "Dockerfile"));
    expect(error.code).toBe("invalid-archive");
  });
});

describe("ContextStore.sweep", () => {
  it("removes contexts not touched for ttlSeconds; has() and open() count as touches", async () => {
    const now = new Date();
    const longAgo = new Date(now.getTime() - 2 * 3600 * 1000);
    const digests: string[] = [];
    for (const content of ["a", "b", "c"]) {
      const archive = await tarGz([{ name: "Dockerfile", content }]);
      digests.push(sha256Of(archive));
      await store.put(sha256Of(archive), chunked(archive), { maxBytes: 1 << 20, maxUnpackedBytes: 1 << 24 });
    }
    const [idle, checked, downloaded] = digests as [string, string, string];
    for (const digest of digests) await utimes(join(dir, digest.slice(7)), longAgo, longAgo);
    // An upload abandoned by a crash: a temp file nobody will finish.
    await import("node:fs/promises").then((fs) => fs.writeFile(join(dir, ".upload-deadbeef"), "partial"));
    await utimes(join(dir, ".upload-deadbeef"), longAgo, longAgo);

    await store.has(checked);
    (await store.open(downloaded)).destroy();
    const { removed } = await store.sweep(now);

    expect(removed).toEqual([idle]);
    expect(await store.has(idle)).toBe(false);
    expect(await store.has(checked)).toBe(true);
    expect(await store.has(downloaded)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual([...storedNames(checked), ...storedNames(downloaded)].sort());
  });

  it("removes a context's Dockerfiles index with it, and an index whose context is gone", async () => {
    const archive = await tarGz([{ name: "Dockerfile", content: "x" }]);
    const digest = sha256Of(archive);
    await store.put(digest, chunked(archive), { maxBytes: 1 << 20, maxUnpackedBytes: 1 << 24 });
    const orphan = `${"e".repeat(64)}.dockerfiles.json`;
    await writeFile(join(dir, orphan), "{}");
    const longAgo = new Date(Date.now() - 2 * 3600 * 1000);
    await utimes(join(dir, orphan), longAgo, longAgo);
    expect((await store.sweep(new Date(Date.now() + 3601 * 1000))).removed).toEqual([digest]);
    expect(await readdir(dir)).toEqual([]);
  });

  it("keeps everything younger than the ttl", async () => {
    const archive = await tarGz([{ name: "Dockerfile", content: "x" }]);
    await store.put(sha256Of(archive), chunked(archive), { maxBytes: 1 << 20, maxUnpackedBytes: 1 << 24 });
    expect((await store.sweep(new Date(Date.now() + 3599 * 1000))).removed).toEqual([]);
    expect((await store.sweep(new Date(Date.now() + 3601 * 1000))).removed).toEqual([sha256Of(archive)]);
  });
});
