// .github/workflows/*.yml pass actionlint (with shellcheck on their run:
// scripts when it is installed). .ci/run builds actionlint from the Go module
// proxy (`go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12`);
// without it this is skipped on a developer's machine and fails in CI
// (CI=true). ACTIONLINT names another binary.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

function findActionlint(): string | undefined {
  if (process.env.ACTIONLINT) return process.env.ACTIONLINT;
  const onPath = spawnSync("sh", ["-c", "command -v actionlint"], { encoding: "utf8" }).stdout.trim();
  if (onPath) return onPath;
  // Where `go install` puts it when GOPATH/bin is not on the PATH.
  const gopath = spawnSync("go", ["env", "GOPATH"], { encoding: "utf8" }).stdout?.trim() || join(homedir(), "go");
  const installed = join(gopath, "bin", "actionlint");
  return existsSync(installed) ? installed : undefined;
}

const actionlint = findActionlint();
const works = actionlint !== undefined && spawnSync(actionlint, ["-version"]).status === 0;

/** actionlint on every workflow file of cwd, named explicitly (it otherwise looks for a git repository). */
function lint(cwd: string): { status: number | null; output: string } {
  const files = readdirSync(join(cwd, ".github/workflows")).filter((name) => /\.ya?ml$/.test(name)).map((name) => `.github/workflows/${name}`);
  const result = spawnSync(actionlint!, ["-no-color", ...files], { cwd, encoding: "utf8", timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe(".github/workflows", () => {
  it("actionlint is installed; required in CI", () => {
    if (!works && process.env.CI !== "true") {
      console.warn("[workflows] actionlint not found: skipped here; CI builds it (go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12)");
      return;
    }
    expect(works, `actionlint not found or not working (${actionlint ?? "not on PATH, nor in $(go env GOPATH)/bin"}); .ci/run installs it with go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12`).toBe(true);
    if (process.env.CI === "true") {
      // Without shellcheck actionlint silently skips the run: scripts.
      expect(spawnSync("sh", ["-c", "command -v shellcheck"]).status, "shellcheck not found; .ci/run installs it (apt-get install shellcheck)").toBe(0);
    }
  });

  it("there are workflows: the release and CI", () => {
    expect(readdirSync(join(root, ".github/workflows")).sort()).toEqual(expect.arrayContaining(["ci.yml", "release.yml"]));
  });

  it.runIf(works)("actionlint finds nothing in .github/workflows/*.yml", () => {
    const result = lint(root);
    expect(result.output).toBe("");
    expect(result.status).toBe(0);
  });

  it.runIf(works)("actionlint reports a broken workflow (this check can fail)", () => {
    const dir = mkdtempSync(join(tmpdir(), "dh-actionlint-"));
    mkdirSync(join(dir, ".github/workflows"), { recursive: true });
    writeFileSync(
      join(dir, ".github/workflows/broken.yml"),
      "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n      - uses: actions/checkout@v4\n        with:\n          ref: ${{ needs.nothing.outputs.sha }}\n",
    );
    const result = lint(dir);
    expect(result.status).toBe(1);
    expect(result.output).toContain("needs.nothing"); // an undefined job's outputs
    expect(result.output).toContain("github.event.pull_request.title"); // untrusted input in a script
  });
});
