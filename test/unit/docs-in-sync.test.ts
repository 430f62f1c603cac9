// Committed documentation that is generated from code must match the code.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "../../dispatcher/api/openapi-document.js";
import { describeConfig } from "../../dispatcher/config/schema.js";

const root = new URL("../../", import.meta.url);

describe("committed docs", () => {
  it("docs/openapi.json is what the server generates (run: npx tsx dispatcher/api/openapi-document.ts > docs/openapi.json)", async () => {
    const committed = JSON.parse(readFileSync(new URL("docs/openapi.json", root), "utf8"));
    expect(committed).toEqual(JSON.parse(JSON.stringify(await openApiDocument())));
  });

  it("the README documents every config key", () => {
    const readme = readFileSync(new URL("README.md", root), "utf8");
    const missing = describeConfig().filter((row) => !readme.includes(`\`${row.key}\``)).map((row) => row.key);
    expect(missing).toEqual([]);
  });
});
