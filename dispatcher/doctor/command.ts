// `doctor`'s command line: arguments in, the report and exit code out (exit
// 0 only when every check ran and passed; 1: a check failed, 2: none failed
// but some could not run). Its entries: main.ts, and `dockhand doctor`.

import { parseArgs } from "node:util";
import { loadConfig } from "../config/load.js";
import { configFileEnv } from "../config/schema.js";
import { findKubeConfig } from "../kube/kubeconfig.js";
import { type CheckResult, fail, skip } from "./check.js";
import { checkGroups, type CheckGroup, runDoctor } from "./doctor.js";
import { exitCode, renderJson, renderTable } from "./report.js";

const usage = `usage: doctor [--config FILE] [--kubeconfig FILE] [--repository OWNER/NAME] [--registry HOST[/REPOSITORY]]
              [--service-account NAME] [--probe-timeout SECONDS] [--only ${checkGroups.join(",")}] [--output table|json]`;

export async function doctorCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<{ output: string; code: number }> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        kubeconfig: { type: "string" },
        repository: { type: "string" },
        registry: { type: "string" },
        "service-account": { type: "string", default: "dockhand-dispatcher" },
        "probe-timeout": { type: "string", default: "240" },
        only: { type: "string" },
        output: { type: "string", default: "table" },
        help: { type: "boolean" },
      },
    }));
  } catch (error) {
    return { output: `${(error as Error).message}\n${usage}`, code: 64 };
  }
  if (values.help) return { output: usage, code: 0 };
  const only = values.only?.split(",").map((group) => group.trim()) as CheckGroup[] | undefined;
  const unknown = only?.filter((group) => !checkGroups.includes(group));
  if (unknown && unknown.length > 0) return { output: `--only: unknown check ${unknown.join(", ")}\n${usage}`, code: 64 };
  const probeTimeoutSeconds = Number(values["probe-timeout"]);
  if (!Number.isInteger(probeTimeoutSeconds) || probeTimeoutSeconds < 10) return { output: `--probe-timeout: whole seconds, at least 10\n${usage}`, code: 64 };

  const started = Date.now();
  const results: CheckResult[] = [];
  const render = () => {
    const ms = Date.now() - started;
    return { output: values.output === "json" ? renderJson(results, ms) : renderTable(results, ms, process.stdout.columns ?? 120), code: exitCode(results) };
  };
  const rest = () => skip("other checks", "not run: they need the config");

  let config;
  try {
    // The dispatcher's own loader: the file, then DOCKHAND_* overrides (what its pod sets from the Secret).
    config = await loadConfig(values.config === undefined ? env : { ...env, [configFileEnv]: values.config });
    const source = values.config ?? env[configFileEnv] ?? "environment";
    results.push({ name: "config: loads", outcome: "ok", detail: `${source}: valid (executor ${config.executor}, namespace ${config.kubernetes.namespace}, publicUrl ${config.publicUrl})` });
  } catch (error) {
    results.push(fail("config: loads", (error as Error).message, `fix each key named above in the config file (docs/configuration.md has every key)${values.config === undefined ? `, or pass --config FILE (or set ${configFileEnv})` : ""}`), rest());
    return render();
  }
  const found = findKubeConfig(values.kubeconfig ?? config.kubernetes.kubeconfig, env);
  if (found === undefined) {
    results.push(fail("kubernetes: credentials", "no kubeconfig: none given, no $KUBECONFIG, not in a pod, no ~/.kube/config", "pass --kubeconfig FILE, or run it in the dispatcher's pod"), rest());
    return render();
  }
  results.push(
    ...(await runDoctor({
      config,
      kc: found.kc,
      serviceAccount: values["service-account"]!,
      ...(values.repository ? { repository: values.repository } : {}),
      ...(values.registry ? { registry: values.registry } : {}),
      probeTimeoutSeconds,
      ...(only ? { only } : {}),
    })),
  );
  return render();
}
