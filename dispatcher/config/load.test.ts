import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "./load.js";

describe("loadConfig", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "dockhand-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the file named by DOCKHAND_CONFIG, then applies env overrides", async () => {
    const path = join(dir, "dockhand.yaml");
    await writeFile(path, "publicUrl: http://file:8080\nlisten:\n  port: 9000\ncontexts:\n  signingKey: " + "k".repeat(32) + "\n");
    const config = await loadConfig({ DOCKHAND_CONFIG: path, DOCKHAND_LISTEN_PORT: "9100" });
    expect(config.publicUrl).toBe("http://file:8080");
    expect(config.listen.port).toBe(9100);
  });

  it("works from the environment alone", async () => {
    const config = await loadConfig({ DOCKHAND_PUBLIC_URL: "http://env:1", DOCKHAND_SIGNING_KEY: "e".repeat(32) });
    expect(config.publicUrl).toBe("http://env:1");
  });

  it("says when the config file does not exist", async () => {
    const path = join(dir, "missing.yaml");
    await expect(loadConfig({ DOCKHAND_CONFIG: path })).rejects.toThrow(
      `invalid dockhand config (${path}):\n  DOCKHAND_CONFIG: names ${JSON.stringify(path)}, which does not exist; fix the path or unset DOCKHAND_CONFIG`,
    );
  });
});
