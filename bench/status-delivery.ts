// Status delivery within GitHub's limits (issue 11), on the real bed, against
// the GitHub stand-in enforcing GitHub's documented limits
// (test/github-standin/limits.ts: per installation the primary limit, 80
// statuses a minute and 500 an hour, 100 concurrent requests; 1000 statuses
// per sha and context) and configured as a GitHub App with 5 installations,
// one repository each. The dispatcher is started as the bed tests start it
// (startBedDispatcher: in this process, KubernetesExecutor, own namespace).
//
//   npx tsx bench/status-delivery.ts [builds=100] [spreadSeconds=50] [cancelled=201]
//   (npm run bench:status-delivery; 0 skips a part; DOCKHAND_BENCH_DEBUG=1
//   prints each build's timeline to stderr)
//
// 1. Delivery: `builds` real single-platform builds (linux/amd64, BuildKit,
//    COPY of a tiny file onto the bed's local base, each its own content and
//    commit, round-robin over the 5 installations) are sent over
//    `spreadSeconds`, so their ends fall within about a minute. Per build:
//    from its end to its final status arriving at the stand-in. The end is
//    read from the Kubernetes object: the build container's
//    state.terminated.finishedAt, which Kubernetes stores in whole seconds
//    (truncated, so this delay is overstated by 0-1 s); a second column
//    measures from the moment this process's pod watch saw the container
//    terminated (ms, no truncation; the dispatcher's informer sees the same
//    event at about the same time).
// 2. The floor, same run: the same statuses (pending at each build's
//    acceptance, result at its end as the watch saw it, same installations)
//    replayed as raw POSTs with fetch against a fresh limit-enforcing
//    stand-in by an ideal client: one write a second per installation
//    (GitHub's best practices), results ahead of pendings, a pending sent
//    before its own result, retry-after obeyed.
// 3. Cancellation: `cancelled` builds whose pods can never be scheduled
//    (BuildKit's nodeSelector names no node; unschedulableAfterSeconds raised
//    so none ends by itself) are cancelled at once through DELETE
//    /v1/builds/{id}, as soon as all were accepted and their pods exist.
//    Measured: until every Job of theirs is released (report finalizer gone,
//    or the Job gone) and none of their pods is left Pending or Running; the
//    status writes it took (pendings among them: each needs a result too),
//    and what each build ended up showing. Two floors, by the ideal client
//    at one write a second per installation: the same writes as dockhand
//    sent after the cancel, per installation as it sent them; and only the
//    writes needed, a result for each build that showed pending when the
//    cancel went out.
//
// The bed is shared and the machine has 2 cores: figures are noisy, and the
// floor is measured in the same run so that the comparison holds.

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { Watch, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";
import { execFileSync } from "node:child_process";
import type { Config } from "../dispatcher/config/schema.js";
import type { Dispatcher } from "../dispatcher/dispatcher.js";
import { labelKeys } from "../dispatcher/plan/names.js";
import { startGitHubStandIn, type GitHubStandIn, type RecordedRequest } from "../test/github-standin/github-standin.js";
import { buildRequest, cancelBuild, ctx, postBuild, setUpBed, startBedDispatcher, uploadContext, type Bed } from "../test/integration/harness.js";

const builds = Number(process.argv[2] ?? 100);
const spreadSeconds = Number(process.argv[3] ?? 50);
const cancelled = Number(process.argv[4] ?? 201);
const installations = 5;
const reportFinalizer = "dockhand.dev/report";
const finalStates = new Set(["success", "failure", "error"]);

// GitHub hands out PKCS#1 PEM keys.
const { privateKey, publicKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});

interface App {
  appId: number;
  /** "owner/repo" → installation id, one repository per installation. */
  installations: Record<string, number>;
}

function app(appId: number, firstInstallation: number, prefix: string): App {
  return {
    appId,
    installations: Object.fromEntries(Array.from({ length: installations }, (_, i) => [`${prefix}-${i + 1}/app`, firstInstallation + i])),
  };
}

const standInFor = (a: App) => startGitHubStandIn({ tokens: [], app: { appId: a.appId, publicKey, installations: a.installations }, limits: true });

function startDispatcherFor(bed: Bed, github: GitHubStandIn, a: App, extra: (config: Config) => Config = (c) => c): Promise<Dispatcher> {
  return startBedDispatcher(bed, (config) =>
    extra({ ...config, github: { apiUrl: github.url, app: { appId: a.appId, privateKey } } }),
  );
}

const sha = () => randomBytes(20).toString("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
const s = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : "–");
const stats = (values: number[]) => `${s(percentile(values, 50))} | ${s(percentile(values, 90))} | ${s(percentile(values, 99))} | ${s(Math.max(...values))}`;

const isStatusWrite = (r: RecordedRequest) => r.operationId === "repos/create-commit-status";
const shaOf = (r: RecordedRequest) => r.path.split("/").at(-1) ?? "";
const stateOf = (r: RecordedRequest) => String((r.body as { state?: unknown } | undefined)?.state);

function requestSummary(requests: RecordedRequest[]) {
  const writes = requests.filter(isStatusWrite);
  return {
    writes: writes.length,
    created: writes.filter((r) => r.status === 201).length,
    secondary: requests.filter((r) => r.limited?.startsWith("secondary")).length,
    primary: requests.filter((r) => r.limited === "primary").length,
    otherRefusals: writes.filter((r) => r.status >= 400 && r.limited === undefined).length,
    reads: requests.filter((r) => r.operationId === "repos/list-commit-statuses-for-ref").length,
    tokenRequests: requests.filter((r) => r.operationId === "apps/create-installation-access-token").length,
  };
}

/**
 * Watches the namespace's pods; for each build id, when its build container
 * was first seen terminated (Date.now()) and the finishedAt Kubernetes stores.
 */
function watchBuildEnds(bed: Bed): { ends: Map<string, { seenAt: number; finishedAt: number; exitCode: number }>; stop(): void } {
  const ends = new Map<string, { seenAt: number; finishedAt: number; exitCode: number }>();
  let abort: AbortController | undefined;
  let stopped = false;
  const onPod = (_phase: string, pod: V1Pod) => {
    const id = pod.metadata?.labels?.[labelKeys.buildId];
    if (!id || ends.has(id)) return;
    const statuses = pod.status?.containerStatuses ?? [];
    if (statuses.length === 0 || !statuses.every((c) => c.state?.terminated)) return;
    const last = statuses.map((c) => c.state!.terminated!).sort((a, b) => new Date(b.finishedAt!).getTime() - new Date(a.finishedAt!).getTime())[0]!;
    ends.set(id, { seenAt: Date.now(), finishedAt: new Date(last.finishedAt!).getTime(), exitCode: last.exitCode });
  };
  const start = () => {
    if (stopped) return;
    new Watch(bed.k.kc)
      .watch(`/api/v1/namespaces/${bed.namespace}/pods`, {}, onPod, () => {
        // The API server ends watches now and then: watch again (a new watch lists every pod first).
        if (!stopped) setTimeout(start, 100);
      })
      .then((a) => (abort = a), () => !stopped && setTimeout(start, 500));
  };
  start();
  return {
    ends,
    stop() {
      stopped = true;
      abort?.abort();
    },
  };
}

// ---------------------------------------------------------------- floor

interface Due {
  at: number;
  repository: string;
  sha: string;
  state: string;
  context: string;
  /** The build's key; a pending goes before its own result. */
  build: string;
}

/**
 * The ideal client: per installation one write a second, results ahead of
 * pendings, a build's pending before its result, retry-after obeyed. Dues
 * are replayed on a clock of their own: `replayed` maps a due time to when
 * it fell due here. Returns the stand-in (its record has each write's
 * arrival).
 */
async function idealClient(a: App, dues: Due[]): Promise<{ github: GitHubStandIn; refused: number; replayed: (at: number) => number }> {
  const github = await standInFor(a);
  const tokens = new Map<number, string>();
  for (const id of Object.values(a.installations)) {
    const octokit = new Octokit({ baseUrl: github.url, authStrategy: createAppAuth, auth: { appId: a.appId, privateKey, installationId: id } });
    tokens.set(id, ((await octokit.auth({ type: "installation" })) as { token: string }).token);
  }
  const base = Math.min(...dues.map((d) => d.at));
  const t0 = Date.now() + 500;
  let refused = 0;
  await Promise.all(
    [...tokens].map(async ([installation, token]) => {
      const queue = dues.filter((d) => a.installations[d.repository] === installation).map((d) => ({ ...d, at: t0 + (d.at - base) }));
      const sent = new Set<string>();
      let last = 0;
      while (queue.length > 0) {
        const now = Date.now();
        const due = queue.filter((d) => d.at <= now);
        if (due.length === 0) {
          await sleep(Math.min(...queue.map((d) => d.at)) - now);
          continue;
        }
        let next = due.find((d) => finalStates.has(d.state)) ?? due.sort((x, y) => x.at - y.at)[0]!;
        if (finalStates.has(next.state)) {
          const pending = queue.find((d) => d.build === next.build && !finalStates.has(d.state));
          if (pending && !sent.has(next.build)) next = pending;
        }
        await sleep(last + 1000 - Date.now());
        last = Date.now();
        const [owner, repo] = next.repository.split("/");
        const response = await fetch(`${github.url}/repos/${owner}/${repo}/statuses/${next.sha}`, {
          method: "POST",
          headers: { accept: "application/vnd.github+json", authorization: `token ${token}`, "user-agent": "dockhand-bench-floor", "content-type": "application/json" },
          body: JSON.stringify({ state: next.state, context: next.context, description: "floor" }),
        });
        await response.arrayBuffer();
        if (response.status === 201) {
          queue.splice(queue.indexOf(next), 1);
          sent.add(next.build);
        } else if (response.status === 403 || response.status === 429) {
          refused++;
          await sleep(Number(response.headers.get("retry-after") ?? 60) * 1000);
        } else throw new Error(`floor: the stand-in answered ${response.status}`);
      }
    }),
  );
  return { github, refused, replayed: (at) => t0 + (at - base) };
}

// ---------------------------------------------------------------- 1. delivery

const out: string[] = [];
const say = (line = "") => {
  console.log(line);
  out.push(line);
};

async function delivery(): Promise<void> {
  const a = app(9911, 101, "bench-delivery");
  const repositories = Object.keys(a.installations);
  const bed = await setUpBed("bench-sd");
  const github = await standInFor(a);
  const dispatcher = await startDispatcherFor(bed, github, a);
  const watch = watchBuildEnds(bed);
  try {
    const dockerfile = `FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY payload.txt /payload.txt\n`;
    // Warm-up, not measured: the base into BuildKit, each installation's token.
    const warm = await uploadContext(dispatcher.url, ctx(dockerfile, { "payload.txt": `warm ${Date.now()}\n` }));
    const warmShas = new Set<string>();
    await Promise.all(
      repositories.map(async (repository, i) => {
        const commit = sha();
        warmShas.add(commit);
        const res = await postBuild(dispatcher.url, buildRequest(warm, { repository, sha: commit, platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bench-sd/warm:${i}`] }));
        if (res.status !== 202) throw new Error(`warm-up build: ${res.status} ${JSON.stringify(res.body)}`);
      }),
    );
    await waitFor(() => github.statuses().filter((st) => warmShas.has(st.sha) && finalStates.has(st.state)).length === warmShas.size, 300_000, "warm-up statuses");
    const before = github.requests().length;
    await sleep(2000);

    // One context per build: its own content, so BuildKit does the COPY each time.
    const contexts: string[] = [];
    for (let i = 0; i < builds; i++) contexts.push(await uploadContext(dispatcher.url, ctx(dockerfile, { "payload.txt": `build ${i} ${randomBytes(8).toString("hex")}\n` })));

    const sent: { id: string; sha: string; repository: string; sentAt: number; acceptedAt: number }[] = [];
    const start = Date.now();
    await Promise.all(
      contexts.map(async (context, i) => {
        await sleep(start + (i * spreadSeconds * 1000) / builds - Date.now());
        const repository = repositories[i % installations]!;
        const commit = sha();
        const sentAt = Date.now();
        const res = await postBuild(dispatcher.url, buildRequest(context, { repository, sha: commit, platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bench-sd/app:${i}`] }));
        if (res.status !== 202) throw new Error(`build ${i}: ${res.status} ${JSON.stringify(res.body)}`);
        sent.push({ id: res.body.id, sha: commit, repository, sentAt, acceptedAt: Date.now() });
      }),
    );
    const shas = new Set(sent.map((b) => b.sha));
    await waitFor(
      () => new Set(github.statuses().filter((st) => shas.has(st.sha) && finalStates.has(st.state)).map((st) => st.sha)).size === shas.size,
      1_200_000,
      "every build's final status",
    );
    const doneAt = Date.now();
    await sleep(3000); // anything sent after the last result still counts
    const requests = github.requests().slice(before);

    const rows = sent.map((b) => {
      const end = watch.ends.get(b.id);
      const writes = requests.filter((r) => isStatusWrite(r) && shaOf(r) === b.sha && r.status === 201);
      const final = writes.find((r) => finalStates.has(stateOf(r)));
      return { ...b, end, final, states: writes.map(stateOf) };
    });
    const measured = rows.filter((r) => r.end && r.final);
    const fromFinishedAt = measured.map((r) => r.final!.receivedAt - r.end!.finishedAt);
    const fromSeen = measured.map((r) => r.final!.receivedAt - r.end!.seenAt);
    const endTimes = measured.map((r) => r.end!.finishedAt);
    const summary = requestSummary(requests);
    const failed = rows.filter((r) => r.end && r.end.exitCode !== 0).length;
    const notPendingFirst = rows.filter((r) => r.states[0] !== "pending").length;

    // The floor: the same statuses, by the ideal client.
    const dues: Due[] = measured.flatMap((r) => [
      { at: r.acceptedAt, repository: r.repository, sha: r.sha, state: "pending", context: "bench/linux-amd64", build: r.id },
      { at: r.end!.seenAt, repository: r.repository, sha: r.sha, state: stateOf(r.final!), context: "bench/linux-amd64", build: r.id },
    ]);
    const floor = await idealClient(app(9921, 401, "bench-delivery"), dues);
    const floorRequests = floor.github.requests();
    // On the replay's clock: each build's end (seen, and finishedAt) shifted as its result's due time was.
    const floorFromSeen: number[] = [];
    const floorFromFinishedAt: number[] = [];
    for (const r of measured) {
      const arrived = floorRequests.find((q) => isStatusWrite(q) && q.status === 201 && shaOf(q) === r.sha && finalStates.has(stateOf(q)));
      if (!arrived) continue;
      floorFromSeen.push(arrived.receivedAt - floor.replayed(r.end!.seenAt));
      floorFromFinishedAt.push(arrived.receivedAt - floor.replayed(r.end!.finishedAt));
    }
    const floorSummary = requestSummary(floorRequests);
    if (process.env.DOCKHAND_BENCH_DEBUG) {
      for (const r of measured) {
        const floorWrites = floorRequests.filter((q) => isStatusWrite(q) && shaOf(q) === r.sha).map((q) => `${stateOf(q)}@${q.receivedAt - floor.replayed(r.acceptedAt)}`);
        const writes = requests.filter((q) => isStatusWrite(q) && shaOf(q) === r.sha).map((q) => `${stateOf(q)}@${q.receivedAt - r.acceptedAt}`);
        console.error(`${r.id} ${r.repository} end seen +${r.end!.seenAt - r.acceptedAt} finishedAt +${r.end!.finishedAt - r.acceptedAt}; dockhand ${writes.join(" ")}; floor ${floorWrites.join(" ")}`);
      }
    }
    await floor.github.close();

    say(`### Delivery: ${builds} builds over ${installations} installations`);
    say();
    say(`${measured.length} of ${builds} builds measured (${failed} failed); their ends (finishedAt) span ${s(Math.max(...endTimes) - Math.min(...endTimes))} s; ` +
      `all results were in ${s(doneAt - start)} s after the first build was sent. A build took ${s(percentile(measured.map((r) => r.end!.seenAt - r.sentAt), 50))} s ` +
      `(median) from its POST to its end as the watch saw it; POST /v1/builds answered in ${s(percentile(measured.map((r) => r.acceptedAt - r.sentAt), 50))} s (median).`);
    say();
    say("| delay from the build's end to its result at GitHub | p50 s | p90 s | p99 s | max s |");
    say("| --- | --- | --- | --- | --- |");
    say(`| dockhand, from finishedAt (whole seconds: overstated by 0-1 s) | ${stats(fromFinishedAt)} |`);
    say(`| dockhand, from the pod watch seeing the end (ms) | ${stats(fromSeen)} |`);
    say(`| floor (ideal client, 1 write/s per installation), from finishedAt | ${stats(floorFromFinishedAt)} |`);
    say(`| floor, from the pod watch seeing the end | ${stats(floorFromSeen)} |`);
    say();
    say(`dockhand over the floor (from the watch): p50 ${s(percentile(fromSeen, 50) - percentile(floorFromSeen, 50))} s, p99 ${s(percentile(fromSeen, 99) - percentile(floorFromSeen, 99))} s. Goal: p99 ≤ 5 s.`);
    say();
    say("| GitHub requests | dockhand | floor |");
    say("| --- | --- | --- |");
    say(`| status writes (POST statuses) | ${summary.writes} (${summary.created} created) | ${floorSummary.writes} (${floorSummary.created} created) |`);
    say(`| secondary-limit answers | ${summary.secondary} | ${floorSummary.secondary} |`);
    say(`| primary-limit answers | ${summary.primary} | ${floorSummary.primary} |`);
    say(`| other refused writes | ${summary.otherRefusals} | ${floorSummary.otherRefusals} |`);
    say(`| status reads (GET commit statuses) | ${summary.reads} | ${floorSummary.reads} |`);
    say(`| builds whose first status was not pending | ${notPendingFirst} | 0 |`);
    say();
    const perInstallation = Object.entries(a.installations).map(([, id]) => requests.filter((r) => isStatusWrite(r) && r.credential === `installation:${id}`).length);
    say(`dockhand's writes per installation: ${perInstallation.join(", ")}.`);
    say();
  } finally {
    watch.stop();
    await dispatcher.close();
    await github.close();
    await bed.close();
  }
}

// ---------------------------------------------------------------- 3. cancellation

async function cancellation(): Promise<void> {
  const a = app(9912, 301, "bench-cancel");
  const repositories = Object.keys(a.installations);
  const bed = await setUpBed("bench-sc");
  const github = await standInFor(a);
  const dispatcher = await startDispatcherFor(bed, github, a, (config) => ({
    ...config,
    // No node carries this label: every pod stays Pending, cheaply, until cancelled.
    buildkit: { ...config.buildkit, nodeSelector: { "dockhand.dev/bench": "no-node-has-this" } },
    limits: { ...config.limits, unschedulableAfterSeconds: 3600 },
  }));
  try {
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY payload.txt /payload.txt\n`, { "payload.txt": "never built\n" }));
    const sent: { id: string; sha: string; repository: string }[] = [];
    let next = 0;
    const submitStart = Date.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < cancelled) {
          const i = next++;
          const repository = repositories[i % installations]!;
          const commit = sha();
          const res = await postBuild(dispatcher.url, buildRequest(context, { repository, sha: commit, platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bench-sc/app:${i}`] }));
          if (res.status !== 202) throw new Error(`build ${i}: ${res.status} ${JSON.stringify(res.body)}`);
          sent.push({ id: res.body.id, sha: commit, repository });
        }
      }),
    );
    const ids = new Set(sent.map((b) => b.id));
    const jobsOfThem = async () =>
      (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace })).items.filter((j: V1Job) => ids.has(j.metadata?.labels?.[labelKeys.buildId] ?? ""));
    const podsOfThem = async () =>
      (await bed.k.core.listNamespacedPod({ namespace: bed.namespace })).items.filter((p: V1Pod) => ids.has(p.metadata?.labels?.[labelKeys.buildId] ?? ""));
    await waitFor(async () => (await podsOfThem()).length >= cancelled, 120_000, "a pod for every build");
    const acceptedIn = Date.now() - submitStart;
    const shas = new Set(sent.map((b) => b.sha));
    const pendingShas = new Set(github.statuses().filter((st) => shas.has(st.sha)).map((st) => st.sha));
    const pendingsBefore = pendingShas.size;

    const t0 = Date.now();
    const cancelAnswered = new Map<string, number>();
    const answers = await Promise.all(
      sent.map((b) =>
        cancelBuild(dispatcher.url, b.id).then(async (r) => {
          await r.arrayBuffer();
          cancelAnswered.set(b.sha, Date.now());
          return r.status;
        }),
      ),
    );
    const deletesAnswered = Date.now() - t0;
    const refusedCancels = answers.filter((code) => code !== 202).length;

    let releasedAt: number | undefined;
    let left = { jobs: cancelled, pods: cancelled };
    const deadline = t0 + 600_000;
    while (Date.now() < deadline) {
      const [jobs, pods] = await Promise.all([jobsOfThem(), podsOfThem()]);
      left = {
        jobs: jobs.filter((j) => j.metadata?.finalizers?.includes(reportFinalizer)).length,
        pods: pods.filter((p) => p.status?.phase === "Pending" || p.status?.phase === "Running").length,
      };
      if (left.jobs === 0 && left.pods === 0) {
        releasedAt = Date.now();
        break;
      }
      await sleep(250);
    }
    await sleep(5000); // late writes count too
    const requests = github.requests().filter((r) => r.receivedAt >= t0);
    const summary = requestSummary(requests);
    const lateWrites = releasedAt === undefined ? 0 : requests.filter((r) => isStatusWrite(r) && r.receivedAt > releasedAt!).length;

    // What each build shows now.
    const shown = sent.map((b) => github.statuses().filter((st) => st.sha === b.sha).map((st) => st.state));
    const pendingForever = shown.filter((states) => states.length > 0 && !finalStates.has(states.at(-1)!)).length;
    const nothing = shown.filter((states) => states.length === 0).length;
    const resultWithoutPending = shown.filter((states) => states.length > 0 && states[0] !== "pending").length;
    const pendingThenResult = shown.filter((states) => states[0] === "pending" && finalStates.has(states.at(-1)!)).length;

    // Pendings after the cancel: each one later needs a result too. Those
    // that reached GitHub after their own build's DELETE was answered were
    // sent for a build already cancelled.
    const pendingsAfter = requests.filter((r) => isStatusWrite(r) && r.status === 201 && stateOf(r) === "pending");
    const pendingsAfterOwnCancel = pendingsAfter.filter((r) => r.receivedAt > (cancelAnswered.get(shaOf(r)) ?? Infinity)).length;

    // Floors, at one write a second per installation by the ideal client:
    // the same writes as dockhand sent after the cancel, per installation as
    // it sent them; and only the writes needed, a result for each build that
    // showed pending when the cancel went out.
    const floorOf = async (dues: Due[], appId: number, firstInstallation: number) => {
      if (dues.length === 0) return { seconds: 0, refused: 0 };
      const floor = await idealClient(app(appId, firstInstallation, "bench-cancel"), dues);
      const writes = floor.github.requests().filter((r) => isStatusWrite(r) && r.status === 201).map((r) => r.receivedAt);
      await floor.github.close();
      return { seconds: Math.max(...writes) - floor.replayed(0), refused: floor.refused };
    };
    const created = requests.filter((r) => isStatusWrite(r) && r.status === 201);
    const same = await floorOf(
      created.map((r, i) => ({ at: 0, repository: r.path.split("/").slice(2, 4).join("/"), sha: shaOf(r), state: stateOf(r), context: `bench/${i}`, build: `${i}` })),
      9922,
      501,
    );
    const showingPending = sent.filter((b) => pendingShas.has(b.sha));
    const needed = await floorOf(
      showingPending.map((b, i) => ({ at: 0, repository: b.repository, sha: b.sha, state: "error", context: `bench/${i}`, build: `${i}` })),
      9923,
      601,
    );

    say(`### Cancellation: ${cancelled} builds cancelled at once`);
    say();
    say(`${cancelled} builds (pods Pending, never schedulable) accepted and their pods created in ${s(acceptedIn)} s; ` +
      `${pendingsBefore} of them showed pending on GitHub when the ${cancelled} DELETE /v1/builds/{id} went out together ` +
      `(all answered in ${s(deletesAnswered)} s, ${refusedCancels} not 202).`);
    say();
    say("| cancellation | dockhand | floor: the same writes | floor: only the needed writes |");
    say("| --- | --- | --- | --- |");
    say(`| until every Job released (no report finalizer, no Pending/Running pod) / the writes sent | ${releasedAt === undefined ? `not after 600 s (${left.jobs} Jobs held, ${left.pods} pods left)` : `${s(releasedAt - t0)} s`} | ${s(same.seconds)} s | ${s(needed.seconds)} s |`);
    say(`| status writes after the cancel | ${summary.writes} (${summary.created} created) | ${created.length} | ${showingPending.length} |`);
    say(`| of which pendings | ${pendingsAfter.length} (${pendingsAfterOwnCancel} after their own build's DELETE was answered) | ${pendingsAfter.length} | 0 |`);
    say(`| secondary-limit answers | ${summary.secondary} | ${same.refused} | ${needed.refused} |`);
    say(`| primary-limit answers | ${summary.primary} | 0 | 0 |`);
    say(`| status writes after the release | ${lateWrites} | – | – |`);
    say();
    say(`What the ${cancelled} builds show on GitHub afterwards: pending then a result ${pendingThenResult}, nothing ${nothing}, ` +
      `still pending ${pendingForever}, a result without a pending ${resultWithoutPending}. Goal: released within 60 s.`);
    say();
  } finally {
    await dispatcher.close();
    await github.close();
    await bed.close();
  }
}

async function waitFor(done: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(200);
  }
}

const commit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8", cwd: new URL("..", import.meta.url).pathname }).trim();
  } catch {
    return process.env.DOCKHAND_BENCH_COMMIT ?? "unknown";
  }
})();
say(`## Status delivery (${new Date().toISOString().slice(0, 10)}, commit ${process.env.DOCKHAND_BENCH_COMMIT ?? commit}, ${builds} builds over ${spreadSeconds} s, ${cancelled} cancelled)`);
say();
if (builds > 0) await delivery();
if (cancelled > 0) await cancellation();
process.exit(0);
