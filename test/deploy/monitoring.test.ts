// deploy/monitoring: the PrometheusRule's alerts pass `promtool check rules`
// and their unit tests (`promtool test rules`), every metric the alerts and
// the Grafana dashboard name is one the dispatcher exports, every alert has
// a test that fires it, the ServiceMonitor finds the base's metrics Service
// and port, and the bed's API server (with the Prometheus Operator's CRDs)
// accepts every object in a server-side dry run.
//
// promtool comes from Debian's `prometheus` package (.ci/run installs it).
// Without it these checks are skipped on a developer's machine, and fail in
// CI (CI=true), where skipping would let a broken rule land.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { createMetrics } from "../../dispatcher/metrics.js";
import { configFromConfigMap, kubectl, type Manifest, render, repoRoot } from "./deployed.js";

const rulesFile = join(repoRoot, "deploy/monitoring/prometheus-rule.yaml");
const dashboardFile = join(repoRoot, "deploy/monitoring/dashboard.json");
const promtoolTests = join(repoRoot, "test/deploy/monitoring/alerts.promtool.yaml");
const crdDir = join(repoRoot, "test/deploy/prometheus-operator-crds");

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
const prometheusRule = parse(readFileSync(rulesFile, "utf8")) as Manifest & { spec: { groups: { name: string; rules: Rule[] }[] } };
const rules = prometheusRule.spec.groups.flatMap((group) => group.rules);
const dashboard = JSON.parse(readFileSync(dashboardFile, "utf8")) as { panels: { title: string; targets: { expr: string }[] }[]; templating: { list: { query?: unknown }[] } };

// PROMTOOL names another binary (a newer promtool than Debian's).
const promtoolBinary = process.env.PROMTOOL ?? "promtool";
const promtool = spawnSync(promtoolBinary, ["--version"], { encoding: "utf8" });
const havePromtool = promtool.status === 0;

/** The rule groups alone, as a Prometheus rule file, next to a copy of the unit tests that name it. */
function ruleFiles(): { dir: string; rules: string; tests: string } {
  const dir = mkdtempSync(join(tmpdir(), "dh-promtool-"));
  writeFileSync(join(dir, "dockhand-rules.yaml"), stringify(prometheusRule.spec));
  copyFileSync(promtoolTests, join(dir, "alerts.promtool.yaml"));
  return { dir, rules: join(dir, "dockhand-rules.yaml"), tests: join(dir, "alerts.promtool.yaml") };
}

function runPromtool(args: string[], cwd: string): { status: number | null; output: string } {
  const result = spawnSync(promtoolBinary, args, { cwd, encoding: "utf8", timeout: 120_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * Metric names in a PromQL expression: dockhand's own, Node's default
 * process_ and nodejs_ ones, and up. Label matchers, strings and label lists
 * (by, without, on, ignoring, group_left/right) go first: their label names
 * are not metrics.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  return [...bare.matchAll(/\b((?:dockhand|process|nodejs)_[a-zA-Z0-9_]+|up)\b/g)].map((m) => m[1]!);
}

describe("deploy/monitoring: promtool", () => {
  it("promtool is installed (Debian: apt-get install prometheus); required in CI", () => {
    if (!havePromtool && process.env.CI !== "true") {
      console.warn("[monitoring] promtool not found: the rule checks are skipped here; CI installs it (apt-get install prometheus)");
      return;
    }
    expect(havePromtool, `${promtoolBinary} not found (${promtool.error?.message ?? promtool.stderr}); .ci/run installs it with apt-get install prometheus`).toBe(true);
  });

  it.runIf(havePromtool)("promtool check rules accepts the PrometheusRule's groups", () => {
    const files = ruleFiles();
    const result = runPromtool(["check", "rules", files.rules], files.dir);
    expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(result.status, result.output).toBe(0);
  });

  it.runIf(havePromtool)("promtool test rules: every alert's unit tests pass", () => {
    const files = ruleFiles();
    const result = runPromtool(["test", "rules", files.tests], files.dir);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain("SUCCESS");
  });

  it.runIf(havePromtool)("promtool test rules fails when an alert does not behave as its test says (the tests can fail)", () => {
    // The same tests against a rule file whose pool alert waits an hour: its firing case must now fail.
    const files = ruleFiles();
    const broken = structuredClone(prometheusRule.spec);
    for (const rule of broken.groups.flatMap((g) => g.rules)) if (rule.alert === "DockhandDockerdPoolNotReady") (rule as Rule & { for: string }).for = "1h";
    writeFileSync(files.rules, stringify(broken));
    const result = runPromtool(["test", "rules", files.tests], files.dir);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain("alertname: DockhandDockerdPoolNotReady");
  });
});

describe("deploy/monitoring: the rules and dashboard match the dispatcher", () => {
  it("every alert has a unit test in which it fires", () => {
    const tests = parse(readFileSync(promtoolTests, "utf8")) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const firing = new Set(tests.tests.flatMap((t) => t.alert_rule_test ?? []).filter((t) => t.exp_alerts.length > 0).map((t) => t.alertname));
    const alerts = rules.map((rule) => rule.alert).filter((name): name is string => name !== undefined);
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.filter((name) => !firing.has(name))).toEqual([]);
  });

  it("every metric named in the alerts and the dashboard is exported by dispatcher/metrics.ts", async () => {
    const exported = new Map<string, string>();
    for (const metric of await createMetrics().registry.getMetricsAsJSON()) exported.set(metric.name, String(metric.type));
    const known = (name: string) => {
      if (name === "up") return true; // Prometheus's own, per target
      if (exported.has(name)) return true;
      const histogram = /^(.*)_(bucket|count|sum)$/.exec(name);
      return histogram !== null && exported.get(histogram[1]!) === "histogram";
    };
    const named = [
      ...rules.map((rule) => ({ where: `alert ${rule.alert ?? rule.record}`, expr: rule.expr })),
      ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr }))),
      ...dashboard.templating.list.map((variable) => ({ where: "dashboard variable", expr: JSON.stringify(variable.query ?? "") })),
    ];
    const names = named.flatMap(({ where, expr }) => metricNames(expr).map((name) => ({ where, name })));
    expect(names.filter(({ name }) => name.startsWith("dockhand_")).length).toBeGreaterThan(20);
    expect(names.filter(({ name }) => !known(name)).map(({ where, name }) => `${where}: ${name} is not exported`)).toEqual([]);
  });

  it("the metric-name check catches a misspelt metric", async () => {
    const exported = new Set((await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
    expect(metricNames("sum(rate(dockhand_comit_statuses_total[5m]))").filter((n) => !exported.has(n))).toEqual(["dockhand_comit_statuses_total"]);
  });
});

const labelsOf = (m: Manifest) => (m.metadata.labels ?? {}) as Record<string, string>;

describe("deploy/monitoring: the objects", () => {
  let base: Manifest[];
  let monitoring: Manifest[];
  beforeAll(() => {
    base = render("deploy/base");
    monitoring = render("deploy/monitoring");
  });

  it("the ServiceMonitor selects the base's metrics Service, whose port reaches the container's metrics.port, and the alerts' job label is that Service", () => {
    const serviceMonitor = monitoring.find((m) => m.kind === "ServiceMonitor")!;
    const selector = serviceMonitor.spec.selector.matchLabels as Record<string, string>;
    const services = base.filter((m) => m.kind === "Service" && Object.entries(selector).every(([k, v]) => labelsOf(m)[k] === v));
    expect(services.map((s) => s.metadata.name)).toEqual(["dockhand-metrics"]);
    const service = services[0]!;
    const endpoint = serviceMonitor.spec.endpoints[0];
    const port = service.spec.ports.find((p: { name: string }) => p.name === endpoint.port);
    expect(port, `the Service has no port named ${endpoint.port}`).toBeDefined();
    const container = base.find((m) => m.kind === "Deployment" && m.metadata.name === "dockhand")!.spec.template.spec.containers[0];
    const containerPort = container.ports.find((p: { name: string }) => p.name === port.targetPort);
    const config = configFromConfigMap(base);
    expect(containerPort.containerPort).toBe(config.metrics.port);
    // The API's Service (on a load balancer in the AKS overlay) does not carry it.
    const api = base.find((m) => m.kind === "Service" && m.metadata.name === "dockhand")!;
    expect(api.spec.ports.map((p: { port: number }) => p.port)).not.toContain(config.metrics.port);
    // A ServiceMonitor's job label is the Service's name unless jobLabel says otherwise.
    expect(serviceMonitor.spec.jobLabel).toBeUndefined();
    for (const rule of rules.filter((r) => /\bup\{/.test(r.expr))) expect(rule.expr).toContain(`job="${service.metadata.name}"`);
  });

  it("the dashboard ConfigMap carries dashboard.json for Grafana's sidecar", () => {
    const configMap = monitoring.find((m) => m.kind === "ConfigMap")!;
    expect(labelsOf(configMap).grafana_dashboard).toBe("1");
    expect(JSON.parse(configMap.data["dockhand.json"])).toEqual(dashboard);
  });

  it("kubectl apply --dry-run=server -k deploy/monitoring: the API server, with the Prometheus Operator's CRDs, accepts every object", () => {
    // The CRDs are cluster-wide and inert: applied for real (idempotent), then waited for.
    const crds = kubectl(["apply", "--server-side", "--force-conflicts", "-f", crdDir]);
    expect(crds.status, crds.stderr).toBe(0);
    const established = kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/servicemonitors.monitoring.coreos.com", "crd/prometheusrules.monitoring.coreos.com"]);
    expect(established.status, established.stderr).toBe(0);
    const namespace = kubectl(["apply", "-f", "-"], JSON.stringify(base.find((m) => m.kind === "Namespace")));
    expect(namespace.status, namespace.stderr).toBe(0);
    const result = kubectl(["apply", "--dry-run=server", "--validate=strict", "-k", "deploy/monitoring"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines.every((line) => line.endsWith("(server dry run)")), result.stdout).toBe(true);
    expect(lines).toHaveLength(monitoring.length);
  });
});
