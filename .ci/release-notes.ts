// The release workflow's gate and notes: a tag vX.Y.Z releases only when
// package.json says X.Y.Z and CHANGELOG.md has a dated section for it; its
// text becomes the GitHub release's notes. `npx tsx .ci/release-notes.ts v0.1.0`
// prints the notes, or says what to fix and exits 1.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

// semver.org's own pattern (without build metadata, which a tag need not carry).
const semver = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?$/;

export type ReleaseCheck = { ok: true; version: string; major: number; notes: string } | { ok: false; problems: string[] };

export function checkRelease(tag: string, packageVersion: string, changelog: string): ReleaseCheck {
  const problems: string[] = [];
  const version = tag.replace(/^v/, "");
  if (!tag.startsWith("v") || !semver.test(version)) problems.push(`tag ${JSON.stringify(tag)} is not v<semantic version>, e.g. v0.2.0`);
  if (!semver.test(packageVersion)) problems.push(`package.json version ${JSON.stringify(packageVersion)} is not a semantic version`);
  else if (packageVersion !== version) problems.push(`package.json says ${packageVersion}, the tag ${tag}: set "version": "${version}" (or tag v${packageVersion})`);
  const heading = new RegExp(`^## \\[${version.replace(/[.+]/g, "\\$&")}\\] - (\\d{4}-\\d{2}-\\d{2})$`, "m").exec(changelog);
  if (!heading) problems.push(`CHANGELOG.md has no section "## [${version}] - YYYY-MM-DD": move what is under [Unreleased] into it`);
  if (problems.length > 0) return { ok: false, problems };
  const start = heading!.index + heading![0].length;
  const next = changelog.slice(start).search(/^## \[/m);
  const notes = (next === -1 ? changelog.slice(start) : changelog.slice(start, start + next)).trim();
  if (notes === "") return { ok: false, problems: [`CHANGELOG.md's section for ${version} is empty`] };
  return { ok: true, version, major: Number(version.split(".")[0]), notes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = new URL("../", import.meta.url);
  const tag = process.argv[2] ?? "";
  const result = checkRelease(
    tag,
    (JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { version: string }).version,
    readFileSync(new URL("CHANGELOG.md", root), "utf8"),
  );
  if (!result.ok) {
    for (const problem of result.problems) console.error(`release ${tag}: ${problem}`);
    process.exit(1);
  }
  console.log(result.notes);
}
