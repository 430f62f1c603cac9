import { createHash } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import tar from "tar-stream";
import { describe, expect, it } from "vitest";
import { ContextError, listContext, packContext, readIgnorePatterns, symlinkEscape } from "./context.js";

/** Writes {path: content} under a fresh directory; a path ending in / is an empty directory. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "dh-ctx-"));
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith("/")) mkdirSync(join(root, path), { recursive: true });
    else {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
  }
  return root;
}

async function sentFiles(files: Record<string, string>, dockerfile = "Dockerfile"): Promise<string[]> {
  const listing = await listContext(tree(files), dockerfile);
  return listing.entries.filter((e) => e.type !== "directory").map((e) => e.path);
}

// Each row: a .dockerignore, a tree, and exactly the files Docker sends.
// Semantics from https://docs.docker.com/build/concepts/context/#dockerignore-files
// (rows marked "docs" are the page's own examples); the walk of excluded
// directories follows BuildKit's sender (tonistiigi/fsutil), what
// `docker build` has used since Docker 23.
const F = "FROM scratch\n";
const cases: [string, string, string[], string[]][] = [
  [
    "docs: # comment, */temp*, */*/temp*, temp?",
    "# comment\n*/temp*\n*/*/temp*\ntemp?\n",
    ["somedir/temporary.txt", "somedir/temp/x", "somedir/subdir/temporary.txt", "tempa", "tempb", "temp", "temporary.txt", "somedir/keep.txt"],
    ["Dockerfile", "somedir/keep.txt", "temp", "temporary.txt"],
  ],
  ["docs: **/*.go excludes .go files in every directory, the root included", "**/*.go\n", ["main.go", "cmd/app/main.go", "cmd/app/README"], ["Dockerfile", "cmd/app/README"]],
  ["docs: *.md with !README.md (a root pattern: * does not cross /)", "*.md\n!README.md\n", ["README.md", "CHANGES.md", "docs/guide.md"], ["Dockerfile", "README.md", "docs/guide.md"]],
  [
    "docs: the last matching line wins (README-secret.md excluded after the exception)",
    "*.md\n!README*.md\nREADME-secret.md\n",
    ["README.md", "README-dev.md", "README-secret.md", "NOTES.md"],
    ["Dockerfile", "README-dev.md", "README.md"],
  ],
  [
    "docs: the same lines reordered re-include README-secret.md",
    "*.md\nREADME-secret.md\n!README*.md\n",
    ["README.md", "README-secret.md", "NOTES.md"],
    ["Dockerfile", "README-secret.md", "README.md"],
  ],
  ["docs: Dockerfile and .dockerignore excluded are still sent", "Dockerfile\n.dockerignore\n", ["a.txt"], [".dockerignore", "Dockerfile", "a.txt"]],
  ["docs: /foo/bar and foo/bar both exclude only foo/bar", "/foo/bar\nbaz/qux\n", ["foo/bar", "foo/barn", "x/foo/bar", "baz/qux"], ["Dockerfile", "foo/barn", "x/foo/bar"]],
  ["docs: the pattern . is ignored", ".\n", ["a.txt"], ["Dockerfile", "a.txt"]],
  ["docs: filepath.Clean removes .. and surrounding whitespace", "  foo/../secret.txt  \n", ["secret.txt", "foo/secret.txt"], ["Dockerfile", "foo/secret.txt"]],
  ["a directory pattern excludes everything inside it, only at that path", "node_modules\n", ["node_modules/a/index.js", "web/node_modules/b.js"], ["Dockerfile", "web/node_modules/b.js"]],
  ["an exception re-includes a file inside an excluded directory", "build\n!build/keep.txt\n", ["build/keep.txt", "build/drop.txt"], ["Dockerfile", "build/keep.txt"]],
  ["a wildcard exception reaches into excluded directories (BuildKit walks them)", "logs\n!**/important.log\n", ["logs/important.log", "logs/debug.log"], ["Dockerfile", "logs/important.log"]],
  ["everything but src: * then !src", "*\n!src\n", ["src/a.c", "src/lib/b.c", "docs/x.md", "Makefile"], ["Dockerfile", "src/a.c", "src/lib/b.c"]],
  ["** excludes everything, yet the Dockerfile and .dockerignore are sent", "**\n", ["a/b/c.txt", "d.txt"], [".dockerignore", "Dockerfile"]],
  ["matching is case-sensitive, as in Go", "*.MD\n", ["readme.md", "NOTES.MD"], ["Dockerfile", "readme.md"]],
  ["? matches one character but not /", "a?b\n", ["axb", "a/b", "ab"], ["Dockerfile", "a/b", "ab"]],
  ["# only starts a comment in column 1; indented it is a pattern", "#notes\n #notes\n", ["#notes", "notes"], ["Dockerfile", "notes"]],
  ["[] character classes", "log[0-9].txt\n", ["log1.txt", "logx.txt"], ["Dockerfile", "logx.txt"]],
  ["a leading UTF-8 BOM is not part of the first pattern", "\uFEFFsecret.txt\n", ["secret.txt"], ["Dockerfile"]],
  ["CRLF line ends", "a.txt\r\nb.txt\r\n", ["a.txt", "b.txt", "c.txt"], ["Dockerfile", "c.txt"]],
];

describe(".dockerignore, as Docker applies it", () => {
  it.each(cases)("%s", async (_name, dockerignore, files, expected) => {
    const all: Record<string, string> = { Dockerfile: F, ".dockerignore": dockerignore };
    for (const file of files) all[file] = `${file}\n`;
    const sent = await sentFiles(all);
    // .dockerignore itself is sent unless it excludes itself without being forced back (never: it is always sent).
    expect(sent.filter((p) => p !== ".dockerignore")).toEqual(expected.filter((p) => p !== ".dockerignore"));
    expect(sent).toContain(".dockerignore");
  });

  it("sends the Dockerfile from an excluded directory, and that directory as its parent, but nothing else of it", async () => {
    const root = tree({ "docker/app.Dockerfile": F, "docker/notes.txt": "x", ".dockerignore": "docker\n", "src/a.c": "" });
    const listing = await listContext(root, "docker/app.Dockerfile");
    expect(listing.entries.map((e) => `${e.type[0]} ${e.path}`)).toEqual(["f .dockerignore", "d docker", "f docker/app.Dockerfile", "d src", "f src/a.c"]);
  });

  it("prefers <Dockerfile>.dockerignore next to the Dockerfile over the root .dockerignore", async () => {
    const files = { "app.Dockerfile": F, "app.Dockerfile.dockerignore": "*.log\n", ".dockerignore": "*.txt\n", "a.txt": "", "b.log": "" };
    const listing = await listContext(tree(files), "app.Dockerfile");
    expect(listing.ignoreFile).toBe("app.Dockerfile.dockerignore");
    expect(listing.entries.map((e) => e.path)).toEqual([".dockerignore", "a.txt", "app.Dockerfile", "app.Dockerfile.dockerignore"]);
  });

  it("reads patterns as moby's ignorefile.ReadAll does", () => {
    expect(readIgnorePatterns("# c\n\n  !  /a/b/  \n./c\n!\n")).toEqual([
      { pattern: "a/b", exception: true },
      { pattern: "c", exception: false },
    ]);
  });
});

describe("refused contexts", () => {
  it("refuses a symlink that points outside the context, naming it", async () => {
    const root = tree({ Dockerfile: F, "config/": "" });
    symlinkSync("../../etc/passwd", join(root, "config/passwd"));
    const err = await listContext(root, "Dockerfile").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContextError);
    expect((err as ContextError).input).toBe("context");
    expect((err as Error).message).toMatch(/^context: symlink "config\/passwd" points to "..\/..\/etc\/passwd", outside the context;.*add "config\/passwd" to .dockerignore/);
  });

  it("refuses an absolute symlink", async () => {
    const root = tree({ Dockerfile: F });
    symlinkSync("/etc/hosts", join(root, "hosts"));
    await expect(listContext(root, "Dockerfile")).rejects.toThrow(/symlink "hosts" points to "\/etc\/hosts", an absolute path/);
  });

  it("keeps a symlink that stays inside, and ignores an escaping one that .dockerignore excludes", async () => {
    const root = tree({ Dockerfile: F, "lib/real.txt": "x", ".dockerignore": "outside\n" });
    symlinkSync("lib/real.txt", join(root, "link.txt"));
    symlinkSync("../lib/real.txt", join(root, "lib/again.txt"));
    symlinkSync("../..", join(root, "outside"));
    const listing = await listContext(root, "Dockerfile");
    expect(listing.entries.find((e) => e.path === "link.txt")).toMatchObject({ type: "symlink", linkname: "lib/real.txt" });
    expect(listing.entries.find((e) => e.path === "lib/again.txt")).toMatchObject({ type: "symlink", linkname: "../lib/real.txt" });
    expect(listing.entries.some((e) => e.path === "outside")).toBe(false);
  });

  it.each([
    ["a/b", "../c", undefined],
    ["a/b", "../../c", "outside the context"],
    ["a", "b/../../x", "outside the context"],
    ["a", "..", "outside the context"],
    ["a", "C:\\Windows", "an absolute path"],
    ["a", "", "an empty target"],
  ])("symlinkEscape(%j, %j) → %j", (path, target, expected) => {
    expect(symlinkEscape(path, target)).toBe(expected);
  });

  it("names file when the Dockerfile is not in the context", async () => {
    const err = await listContext(tree({ "a.txt": "" }), "Dockerfile").catch((e: unknown) => e);
    expect((err as ContextError).input).toBe("file");
    expect((err as Error).message).toMatch(/^file: "Dockerfile" is not a file in the context/);
  });

  it("names context when the directory does not exist", async () => {
    const err = await listContext("/nonexistent/dh", "Dockerfile").catch((e: unknown) => e);
    expect((err as ContextError).input).toBe("context");
  });
});

async function pack(root: string, dockerfile = "Dockerfile") {
  return packContext({ contextDir: root, dockerfile, outFile: join(mkdtempSync(join(tmpdir(), "dh-out-")), "ctx.tar.gz") });
}

async function tarHeaders(file: string): Promise<tar.Header[]> {
  const headers: tar.Header[] = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      headers.push(header);
      stream.on("end", next);
      stream.resume();
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  extract.end(gunzipSync(readFileSync(file)));
  await done;
  return headers;
}

describe("reproducible tarballs", () => {
  const files = { Dockerfile: F, "src/main.c": "int main(){}\n", "src/lib/util.c": "void u(){}\n", "assets/logo.svg": "<svg/>\n", "empty/": "" };

  it("packs the same tree to the same sha256, and the digest is the sha256 of the file", async () => {
    const root = tree(files);
    const a = await pack(root);
    const b = await pack(root);
    expect(a.digest).toBe(b.digest);
    expect(a.digest).toBe(`sha256:${createHash("sha256").update(readFileSync(a.path)).digest("hex")}`);
    expect(a.size).toBe(readFileSync(a.path).length);
    expect(a.files).toBe(4);
  });

  it("gives a copy made later, in another order, with other mtimes, the same digest", async () => {
    const first = tree(files);
    const reversed = Object.fromEntries(Object.entries(files).reverse());
    const second = tree(reversed);
    utimesSync(join(second, "src/main.c"), new Date("2001-02-03"), new Date("2001-02-03"));
    utimesSync(join(second, "src"), new Date("2011-02-03"), new Date("2011-02-03"));
    expect((await pack(second)).digest).toBe((await pack(first)).digest);
  });

  it.skipIf(process.getuid?.() !== 0)("gives a tree owned by another user the same digest", async () => {
    const first = tree(files);
    const second = tree(files);
    for (const path of ["Dockerfile", "src/main.c", "src", "empty"]) chownSync(join(second, path), 1234, 5678);
    expect((await pack(second)).digest).toBe((await pack(first)).digest);
  });

  it("changes the digest when a file's content changes", async () => {
    const root = tree(files);
    const before = await pack(root);
    writeFileSync(join(root, "src/main.c"), "int main(){return 1;}\n");
    expect((await pack(root)).digest).not.toBe(before.digest);
  });

  it("keeps the executable bit (a script must stay runnable) and normalises every other mode bit", async () => {
    const root = tree(files);
    const before = await pack(root);
    chmodSync(join(root, "src/main.c"), 0o600);
    expect((await pack(root)).digest).toBe(before.digest);
    chmodSync(join(root, "src/main.c"), 0o700);
    expect((await pack(root)).digest).not.toBe(before.digest);
  });

  it("writes sorted entries with mtime 0, uid/gid 0, no owner names, 0644/0755 modes", async () => {
    const root = tree({ ...files, "b.txt": "b", "a.txt": "a" });
    const headers = await tarHeaders((await pack(root)).path);
    expect(headers.map((h) => h.name)).toEqual(["Dockerfile", "a.txt", "assets", "assets/logo.svg", "b.txt", "empty", "src", "src/lib", "src/lib/util.c", "src/main.c"]);
    for (const h of headers) {
      expect(h.mtime.getTime()).toBe(0);
      expect([h.uid, h.gid, h.uname, h.gname]).toEqual([0, 0, "", ""]);
      expect(h.mode).toBe(h.type === "directory" ? 0o755 : 0o644);
    }
  });

  it("writes a gzip header with no mtime and OS 255, so Windows and Linux runners agree", async () => {
    const bytes = readFileSync((await pack(tree(files))).path);
    expect([...bytes.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  });

  it("stops packing when its signal aborts, also in the middle of a large file", async () => {
    const root = tree({ Dockerfile: F });
    writeFileSync(join(root, "big.bin"), Buffer.alloc(64 * 1024 * 1024, 1));
    const stop = new AbortController();
    const packing = packContext({ contextDir: root, dockerfile: "Dockerfile", outFile: join(mkdtempSync(join(tmpdir(), "dh-out-")), "c.tgz"), signal: stop.signal });
    setTimeout(() => stop.abort(new Error("stopped")), 20);
    await expect(packing).rejects.toThrow("stopped");
  });
});
