// The release gate (.ci/release-notes.ts) and the files it reads: a tag
// releases only what package.json and CHANGELOG.md agree on.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkRelease } from "../../.ci/release-notes.js";

const root = new URL("../../", import.meta.url);
const changelog = readFileSync(new URL("CHANGELOG.md", root), "utf8");
const packageVersion = (JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { version: string }).version;

const released = `# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2027-01-15\n\n### Added\n\n- The builds list.\n\n## [0.1.0] - 2026-12-20\n\n### Added\n\n- Everything.\n`;

describe("checkRelease", () => {
  it.each([
    { name: "a tag matching package.json and a dated section: its notes", tag: "v0.2.0", version: "0.2.0", expected: { ok: true, version: "0.2.0", major: 0, notes: "### Added\n\n- The builds list." } },
    { name: "the last section runs to the end", tag: "v0.1.0", version: "0.1.0", expected: { ok: true, version: "0.1.0", major: 0, notes: "### Added\n\n- Everything." } },
    {
      name: "package.json not bumped",
      tag: "v0.2.0",
      version: "0.1.0",
      expected: { ok: false, problems: ['package.json says 0.1.0, the tag v0.2.0: set "version": "0.2.0" (or tag v0.1.0)'] },
    },
    {
      name: "no section for the version",
      tag: "v0.3.0",
      version: "0.3.0",
      expected: { ok: false, problems: ['CHANGELOG.md has no section "## [0.3.0] - YYYY-MM-DD": move what is under [Unreleased] into it'] },
    },
    {
      name: "not a semantic version tag",
      tag: "v1.2",
      version: "1.2.0",
      expected: {
        ok: false,
        problems: ['tag "v1.2" is not v<semantic version>, e.g. v0.2.0', 'package.json says 1.2.0, the tag v1.2: set "version": "1.2" (or tag v1.2.0)', 'CHANGELOG.md has no section "## [1.2] - YYYY-MM-DD": move what is under [Unreleased] into it'],
      },
    },
  ])("$name", ({ tag, version, expected }) => {
    expect(checkRelease(tag, version, released)).toEqual(expected);
  });
});

describe("CHANGELOG.md and package.json", () => {
  it("package.json's version is a semantic version that CHANGELOG.md has a section for, or is still [Unreleased]", () => {
    expect(packageVersion).toMatch(/^\d+\.\d+\.\d+$/);
    const released = checkRelease(`v${packageVersion}`, packageVersion, changelog);
    if (!released.ok) expect(changelog).toMatch(/^## \[Unreleased\]$/m);
  });

  it("versions are listed newest first, each once, each dated", () => {
    const versions = [...changelog.matchAll(/^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$/gm)].map((m) => ({ version: m[1]!, date: m[2] }));
    expect(versions[0]?.version).toBe("Unreleased");
    const numbered = versions.slice(1);
    for (const { version, date } of numbered) {
      expect(version).toMatch(/^\d+\.\d+\.\d+/);
      expect(date, `## [${version}] needs a date`).toBeDefined();
    }
    const key = (v: string) => v.split(/[.-]/).slice(0, 3).map(Number);
    const sorted = [...numbered].sort((a, b) => {
      const [x, y] = [key(a.version), key(b.version)];
      return y[0]! - x[0]! || y[1]! - x[1]! || y[2]! - x[2]!;
    });
    expect(numbered.map((v) => v.version)).toEqual(sorted.map((v) => v.version));
    expect(new Set(numbered.map((v) => v.version)).size).toBe(numbered.length);
  });
});
