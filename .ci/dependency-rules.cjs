// Architecture rules, checked in CI by dependency-cruiser (`npm run lint:deps`).
// docs/architecture.md draws the map these keep: data flows one way, from the
// Action through the HTTP API, auth and policy, planning, the executors, to
// GitHub statuses. Tests are not cruised: they may reach across layers.

/** Folders and files that talk to the world: sockets, files, processes, Kubernetes, GitHub. */
const ioLayers =
  "^dispatcher/(api|auth|contexts|controller|kube|local|github|registry|webhooks)/|^dispatcher/(dispatcher|main|logging|metrics|remembered)\\.ts$|^dispatcher/config/(load|live-config)\\.ts$";
/** Packages and Node modules that do I/O. */
const ioPackages =
  "^(fs|net|http|https|http2|tls|dgram|dns|child_process|cluster|worker_threads|readline)$|^node:(fs|net|http|https|http2|tls|dgram|dns|child_process|cluster|worker_threads|readline)|node_modules/(undici|fastify|@fastify|pino|prom-client|@octokit|@actions|jose|tar-stream)/";

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "A cycle makes two modules one: neither can be read, tested or moved without the other.",
      severity: "error",
      from: { path: "^(dispatcher|action)/" },
      to: { circular: true },
    },
    {
      name: "pure-core-no-io",
      comment: "Planning, policy, the build model and the contract are pure functions, tested without I/O; I/O calls into them, never the other way.",
      severity: "error",
      from: { path: "^dispatcher/(plan|policy|model|protocol)/" },
      // auth/identity.ts is the pure description of who asks, which policy decides on.
      to: { path: [ioLayers, ioPackages], pathNot: "^dispatcher/auth/identity\\.ts$" },
    },
    {
      name: "model-no-kubernetes",
      comment: "The build model is what both executors share; a Kubernetes type in it would tie the local executor to the cluster's shapes.",
      severity: "error",
      from: { path: "^dispatcher/(model|protocol)/" },
      to: { path: "node_modules/@kubernetes/" },
    },
    {
      name: "protocol-stands-alone",
      comment: "The contract is shared with the Action and bundled into it: it may depend on nothing else of the dispatcher.",
      severity: "error",
      from: { path: "^dispatcher/protocol/" },
      to: { path: "^dispatcher/", pathNot: "^dispatcher/protocol/" },
    },
    {
      name: "action-only-protocol",
      comment: "The Action and the dispatcher meet in one contract; anything else of the dispatcher in the Action is a second, drifting copy.",
      severity: "error",
      from: { path: "^action/" },
      to: { path: "^dispatcher/", pathNot: "^dispatcher/protocol/" },
    },
    {
      name: "only-cli-uses-the-action-client",
      comment: "The operator CLI shares the Action's HTTP client so the two cannot disagree about the API; nothing else in the dispatcher may lean on the Action.",
      severity: "error",
      from: { path: "^dispatcher/", pathNot: "^dispatcher/cli/" },
      to: { path: "^action/" },
    },
    {
      name: "api-only-from-composition-root",
      comment: "The HTTP API is the entry for requests: only the composition root (dispatcher.ts) wires it, so nothing below depends on HTTP.",
      severity: "error",
      from: { path: "^dispatcher/", pathNot: "^dispatcher/(api/|dispatcher\\.ts$)" },
      to: { path: "^dispatcher/api/" },
    },
    {
      name: "api-knows-no-executor",
      comment: "The API reaches builds through the Executor interface (executor.ts); which executor runs them is the composition root's choice.",
      severity: "error",
      from: { path: "^dispatcher/api/" },
      // kube/api-errors.ts only reads a Kubernetes error's status, which the API maps to its own answer.
      to: { path: "^dispatcher/(controller|kube|local)/", pathNot: "^dispatcher/kube/api-errors\\.ts$" },
    },
    {
      name: "kube-below-controller",
      comment: "kube/ is the Kubernetes API access the controller uses; it must not call back up into the controller.",
      severity: "error",
      from: { path: "^dispatcher/kube/" },
      to: { path: "^dispatcher/(controller|local)/" },
    },
    {
      name: "executors-apart",
      comment: "The local and the Kubernetes executor share the model, not each other: either can change without breaking the other.",
      severity: "error",
      from: { path: "^dispatcher/local/" },
      to: { path: "^dispatcher/(controller|kube)/" },
    },
    {
      name: "controller-not-local",
      comment: "The same rule seen from the other side.",
      severity: "error",
      from: { path: "^dispatcher/(controller|kube)/" },
      to: { path: "^dispatcher/local/" },
    },
    {
      name: "doctor-is-a-leaf",
      comment: "doctor/ is a command of its own that reads every layer to check a deployment; the dispatcher never runs it, so nothing but the CLI imports it.",
      severity: "error",
      // The operator CLI's `dockhand doctor` runs it, as its own entry does.
      from: { path: "^dispatcher/", pathNot: "^dispatcher/(doctor|cli)/" },
      to: { path: "^dispatcher/doctor/" },
    },
    {
      name: "doctor-verdicts-pure",
      comment: "The doctor's verdicts (pools, probe, rbac, report) are pure functions of the facts its I/O files gather, so each red path is a table-driven unit test.",
      severity: "error",
      from: { path: "^dispatcher/doctor/(pools|probe|rbac|report|check)\\.ts$" },
      to: { path: [ioLayers, ioPackages] },
    },
    {
      name: "not-to-unresolvable",
      comment: "An import that does not resolve is a build that breaks at run time.",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // swc, because TypeScript 7 has no JavaScript API for dependency-cruiser to call.
    parser: "swc",
    // Type-only imports count: a type from an I/O layer ties a pure module to it as surely as a value does.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "\\.test\\.ts$" },
    doNotFollow: { path: "node_modules" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".mjs", ".json"], exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
