// The architecture rules (.ci/dependency-rules.cjs) hold on the code, and
// they can fail: a small tree that breaks each rule once is refused by name.

import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const rules = join(root, ".ci/dependency-rules.cjs");
const depcruise = join(root, "node_modules/.bin/depcruise");
const run = promisify(execFile);

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

async function violations(cwd: string): Promise<Violation[]> {
  // depcruise exits non-zero when it finds violations; the JSON says which.
  const result = await run(depcruise, ["--config", rules, "--output-type", "json", "dispatcher", "action"], { cwd, maxBuffer: 64 * 1024 * 1024 }).catch(
    (err: { stdout?: string; stderr?: string }) => {
      if (!err.stdout) throw new Error(`depcruise failed: ${err.stderr}`);
      return { stdout: err.stdout };
    },
  );
  return (JSON.parse(result.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

const scratch = mkdtempSync(join(tmpdir(), "dh-rules-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(scratch, "tree-"));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "nodenext", moduleResolution: "nodenext" } }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe("architecture rules", () => {
  it("hold on dispatcher/ and action/", async () => {
    expect((await violations(root)).map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  }, 60_000);

  it("refuse each kind of wrong arrow by name", async () => {
    const dir = tree({
      "dispatcher/model/a.ts": 'import { b } from "./b.js";\nexport const a = b;\n',
      "dispatcher/model/b.ts": 'import { a } from "./a.js";\nexport const b = () => a;\n',
      "dispatcher/plan/job.ts": 'import { jobs } from "../kube/jobs.js";\nexport const plan = jobs;\n',
      "dispatcher/kube/jobs.ts": 'import { reconcile } from "../controller/reconciler.js";\nexport const jobs = reconcile;\n',
      "dispatcher/controller/reconciler.ts": "export const reconcile = 1;\n",
      "dispatcher/protocol/contract.ts": 'import { plan } from "../plan/job.js";\nexport const contract = plan;\n',
      "dispatcher/local/executor.ts": 'import { jobs } from "../kube/jobs.js";\nimport { route } from "../api/route.js";\nexport const local = [jobs, route];\n',
      "dispatcher/api/route.ts": 'import { local } from "../local/executor.js";\nexport const route = local;\n',
      "action/main.ts": 'import { plan } from "../dispatcher/plan/job.js";\nexport const main = plan;\n',
      "dispatcher/plan/uses-action.ts": 'import { main } from "../../action/main.js";\nexport const x = main;\n',
    });
    const names = new Set((await violations(dir)).map((v) => v.rule.name));
    expect([...names].sort()).toEqual(
      [
        "action-only-protocol",
        "api-knows-no-executor",
        "api-only-from-composition-root",
        "executors-apart",
        "only-cli-uses-the-action-client",
        "kube-below-controller",
        "no-circular",
        "protocol-stands-alone",
        "pure-core-no-io",
      ].sort(),
    );
  }, 60_000);
});
