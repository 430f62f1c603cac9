// Committed documentation that is generated from code must match the code,
// and the documentation's relative links must lead somewhere.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "../../dispatcher/api/openapi-document.js";
import { describeConfig } from "../../dispatcher/config/schema.js";

const root = new URL("../../", import.meta.url);
const rootDir = fileURLToPath(root);

/** README.md and every docs/*.md, as paths from the repository root. */
function markdownPages(): string[] {
  const docs = readdirSync(join(rootDir, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`);
  return ["README.md", ...docs];
}

/**
 * The targets of a page's inline links and images (`[text](target)`,
 * `![alt](target "title")`, `[text](<target>)`) and reference definitions
 * (`[name]: target`), outside fenced code blocks and inline code.
 */
function linkTargets(markdown: string): string[] {
  const prose = markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "")
    .replace(/`[^`\n]*`/g, "");
  const targets: string[] = [];
  for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) {
    targets.push((match[1] ?? "").replace(/^<|>$/g, ""));
  }
  for (const match of prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/gm)) {
    targets.push((match[1] ?? "").replace(/^<|>$/g, ""));
  }
  return targets;
}

/** A target that names a file in this repository (no scheme, not only an anchor), without its anchor or query. */
function relativePath(target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#") || target.startsWith("//")) return undefined;
  const path = decodeURI(target.replace(/[#?].*$/, ""));
  return path === "" ? undefined : path;
}

describe("committed docs", () => {
  it("docs/openapi.json is what the server generates (run: npx tsx dispatcher/api/openapi-document.ts > docs/openapi.json)", async () => {
    const committed = JSON.parse(readFileSync(new URL("docs/openapi.json", root), "utf8"));
    expect(committed).toEqual(JSON.parse(JSON.stringify(await openApiDocument())));
  });

  it("docs/configuration.md documents every config key", () => {
    const page = readFileSync(new URL("docs/configuration.md", root), "utf8");
    const missing = describeConfig().filter((row) => !page.includes(`\`${row.key}\``)).map((row) => row.key);
    expect(missing).toEqual([]);
  });

  it("every relative link in README.md and docs/*.md leads to a file or folder in the repository (anchors not checked)", () => {
    const broken: string[] = [];
    for (const page of markdownPages()) {
      const markdown = readFileSync(join(rootDir, page), "utf8");
      for (const target of linkTargets(markdown)) {
        const path = relativePath(target);
        if (path === undefined) continue;
        const resolved = path.startsWith("/") ? join(rootDir, path) : join(rootDir, dirname(page), path);
        const inside = !relative(rootDir, resolved).startsWith("..");
        if (!inside || !existsSync(resolved)) broken.push(`${page}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("the link check sees links, and only links", () => {
    const markdown = [
      "See [a](a.md), ![img](pic.png \"title\"), [b](<with space.md#x>) and [c](https://example.com).",
      "`[not](code.md)` and [anchor](#here).",
      "```md",
      "[fenced](fenced.md)",
      "```",
      "[ref]: docs/ref.md",
    ].join("\n");
    expect(linkTargets(markdown)).toEqual(["a.md", "pic.png", "with space.md#x", "https://example.com", "#here", "docs/ref.md"]);
    expect(linkTargets(markdown).map(relativePath)).toEqual(["a.md", "pic.png", "with space.md", undefined, undefined, "docs/ref.md"]);
  });
});
