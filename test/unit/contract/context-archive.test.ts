// The build context as the Action packs it (action/context.ts) is read back
// by the dispatcher's own tar reader (dispatcher/contexts/tar-file.ts), as
// POST /v1/builds reads the Dockerfile from the uploaded context: the archive
// format is part of the contract, though no schema says so.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { packContext } from "../../../action/context.js";
import { readFileFromTarGz } from "../../../dispatcher/contexts/tar-file.js";

/** Writes {path: content} under a fresh directory. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "dh-ctx-"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

async function pack(root: string, dockerfile = "Dockerfile") {
  return packContext({ contextDir: root, dockerfile, outFile: join(mkdtempSync(join(tmpdir(), "dh-out-")), "ctx.tar.gz") });
}

const F = "FROM scratch\n";

describe("the Action's context archive", () => {
  it("is read back by the dispatcher's own tar reader, long and non-ASCII names included", async () => {
    const long = `${"deep/".repeat(30)}file.txt`;
    const root = tree({ "docker/Windows.Dockerfile": "FROM x\n", [long]: "deep\n", "ünïcode.txt": "u\n" });
    const packed = await pack(root, "docker/Windows.Dockerfile");
    const open = () => Readable.from([readFileSync(packed.path)]);
    expect((await readFileFromTarGz(open, "docker/Windows.Dockerfile", { maxBytes: 1 << 20, archiveLabel: "t" })).toString()).toBe("FROM x\n");
    expect((await readFileFromTarGz(open, long, { maxBytes: 1 << 20, archiveLabel: "t" })).toString()).toBe("deep\n");
    expect((await readFileFromTarGz(open, "ünïcode.txt", { maxBytes: 1 << 20, archiveLabel: "t" })).toString()).toBe("u\n");
  });

  it("streams a file larger than the read-whole threshold intact", async () => {
    const big = Buffer.alloc(9 * 1024 * 1024 + 17, 7);
    const root = tree({ Dockerfile: F });
    writeFileSync(join(root, "big.bin"), big);
    const packed = await pack(root);
    const open = () => Readable.from([readFileSync(packed.path)]);
    const back = await readFileFromTarGz(open, "big.bin", { maxBytes: 1 << 30, archiveLabel: "t" });
    expect(back.equals(big)).toBe(true);
    expect(packed.contentBytes).toBe(big.length + F.length);
  });
});
