// The dispatcher's one configuration: a TypeBox schema (the TS type, the
// defaults and the documentation in one place). Every key has a description;
// describeConfig() turns them into the table in docs/configuration.md. Keys holding secrets are
// marked `secret: true` so nothing ever prints their values.

import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { defaultCliImages, pinnedCliMajor, pinnedEngine } from "../plan/docker-engine-compat.js";
import { hypervNodeLabel } from "../plan/names.js";

/** The buildctl images deploy/images/buildctl-windows builds, one per Windows release (BuildKit v0.34.2, as buildkit.image). */
export const defaultBuildctlWindowsImages = {
  ltsc2019: "ghcr.io/dockhand-dev/buildctl-windows:v0.34.2-ltsc2019",
  ltsc2022: "ghcr.io/dockhand-dev/buildctl-windows:v0.34.2-ltsc2022",
  ltsc2025: "ghcr.io/dockhand-dev/buildctl-windows:v0.34.2-ltsc2025",
} as const;


// Kubernetes names and labels
// (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/).
const dnsLabel = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
const dnsSubdomain = "^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
const labelKey = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
const labelValue = "^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$";
// resource.Quantity: a decimal with an optional binary or decimal suffix.
const quantity = "^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$";
const hostPort = "^(\\[[0-9A-Fa-f:]+\\]|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?)(:[0-9]{1,5})?$";

const NodeSelector = (description: string) =>
  Type.Record(
    Type.String({ pattern: labelKey, maxLength: 317, expected: "a label key ([DNS prefix/]name, name at most 63 characters)" }),
    Type.String({ pattern: labelValue, expected: "a label value (at most 63 letters, digits, -, _ or .)" }),
    { additionalProperties: false, default: {}, description },
  );

const Toleration = Type.Object(
  {
    key: Type.Optional(Type.String({ pattern: labelKey, expected: "a taint key" })),
    operator: Type.Optional(Type.Union([Type.Literal("Equal"), Type.Literal("Exists")])),
    value: Type.Optional(Type.String({ pattern: labelValue, expected: "a taint value" })),
    effect: Type.Optional(
      Type.Union([Type.Literal("NoSchedule"), Type.Literal("PreferNoSchedule"), Type.Literal("NoExecute")]),
    ),
    tolerationSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

const Tolerations = (description: string) => Type.Array(Toleration, { default: [], description });

// One Windows version's dockerd pool: where its build Jobs (and its dockerd
// DaemonSet) go. kubernetes.io/os and node.kubernetes.io/windows-build are
// always added; the selector names the pool itself.
const WindowsPool = (title: string, pool: string) =>
  Type.Object(
    {
      nodeSelector: Type.Record(
        Type.String({ pattern: labelKey, maxLength: 317, expected: "a label key ([DNS prefix/]name, name at most 63 characters)" }),
        Type.String({ pattern: labelValue, expected: "a label value (at most 63 letters, digits, -, _ or .)" }),
        {
          additionalProperties: false,
          minProperties: 1,
          description: `Labels of the ${title} pool, e.g. agentpool: ${pool} on AKS (or node.kubernetes.io/windows-build alone when the cluster has one pool of that version).`,
        },
      ),
      tolerations: Tolerations(`Tolerations for the ${title} pool's taints (the same as its dockerd DaemonSet's).`),
      // Optional rather than defaulted: configs built in code (tests, tools) stay valid without it.
      isolation: Type.Optional(Type.Union([Type.Literal("process"), Type.Literal("hyperv")], {
        description: `"process" (unset): ${title} builds run on this pool's own nodes (a process-isolated container needs a host of its build). "hyperv": they run on a newer version's pool, on nodes labelled ${hypervNodeLabel}=true, with docker build --isolation=hyperv (a utility VM of the image's build per RUN step); nodeSelector and tolerations then add to the host pool's. dockerd pool only: BuildKit has no per-build Hyper-V isolation (docs/api.md).`,
      })),
      hostVersion: Type.Optional(
        Type.Union([Type.Literal("ltsc2022"), Type.Literal("ltsc2025")], {
          description: `With isolation hyperv: the newer Windows version whose process pool runs ${title} builds; unset means the nearest newer version that has one.`,
        }),
      ),
    },
    { additionalProperties: false, description: `The ${title} dockerd pool.` },
  );

const Quantity = () => Type.String({ pattern: quantity, expected: "a quantity like 500m, 2 or 1Gi" });

const ResourceList = (description: string, defaults: Record<string, string>) =>
  Type.Object(
    {
      cpu: Type.Optional(Quantity()),
      memory: Type.Optional(Quantity()),
      "ephemeral-storage": Type.Optional(Quantity()),
    },
    { additionalProperties: false, default: defaults, description },
  );

const ImageRef = (description: string, defaultImage: string) =>
  Type.String({ minLength: 1, maxLength: 512, default: defaultImage, description });

// "owner/name", "owner/*" or "*" (GitHub names: see protocol/request-rules.ts).
const repositoryPattern = "^(\\*|[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/(\\*|[A-Za-z0-9._-]{1,100}))$";
// A ref pattern: a full ref, "*" allowed as the last path segment or alone.
const refPatternPattern = "^(\\*|refs/[^\\s*]+(/\\*)?|refs/(heads|tags)/\\*)$";

const RepositoryRule = Type.Object(
  {
    repository: Type.String({
      pattern: repositoryPattern,
      expected: 'a repository pattern: "owner/name", "owner/*" or "*"',
      description: "Which repositories this rule is for.",
    }),
    dockerPool: Type.Object(
      {
        refs: Type.Array(Type.String({ pattern: refPatternPattern, expected: 'a ref like "refs/heads/main", or "refs/tags/*"' }), {
          default: [],
          description: "Refs whose builds may use the dockerd pool (host-level access on Windows nodes).",
        }),
        environments: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
          default: [],
          description: "GitHub deployment environments (the OIDC environment claim) whose builds may use the dockerd pool.",
        }),
      },
      { additionalProperties: false, default: {}, description: "Off unless a ref or environment is listed." },
    ),
    registrySecrets: Type.Optional(
      Type.Array(Type.String({ pattern: dnsSubdomain, expected: "a Secret name" }), {
        description: "Registry Secrets this repository's builds may mount (the first is the default); unset means registry.secretName.",
      }),
    ),
    imagePrefixes: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
      default: [],
      description: 'Image names this repository may tag and push: "registry/path" prefixes, or "*"; none means no tags.',
    }),
    maxConcurrentBuilds: Type.Optional(
      Type.Integer({ minimum: 1, description: "Running platform builds (Jobs) at once; more are refused with 429 and Retry-After." }),
    ),
    forkPullRequests: Type.Boolean({
      default: false,
      description: "Whether pull request builds whose head is in a fork (or from pull_request_target) may build.",
    }),
    cancelSupersededBuilds: Type.Boolean({
      default: false,
      description: "A pull_request synchronize webhook cancels the builds of the pull request's previous head.",
    }),
  },
  { additionalProperties: false },
);

const section = <T extends Parameters<typeof Type.Object>[0]>(properties: T, description: string) =>
  Type.Object(properties, { additionalProperties: false, default: {}, description });

export const ConfigSchema = Type.Object(
  {
    listen: section(
      {
        host: Type.String({ minLength: 1, default: "0.0.0.0", description: "Address the HTTP API listens on." }),
        port: Type.Integer({ minimum: 1, maximum: 65535, default: 8080, description: "Port the HTTP API listens on." }),
        shutdownGraceSeconds: Type.Integer({
          minimum: 0,
          maximum: 300,
          default: 10,
          description:
            "On SIGTERM, requests in flight get this long to finish; then every connection is closed (log followers resume against another replica). Keep it below the pod's terminationGracePeriodSeconds.",
        }),
      },
      "Where the dispatcher's HTTP API listens.",
    ),
    metrics: section(
      {
        port: Type.Optional(
          Type.Integer({
            minimum: 1,
            maximum: 65535,
            description:
              "Serve /metrics on this port alone (on listen.host), and no longer on the API's port, so Prometheus can scrape it without it being exposed beside the public API; unset means /metrics is served by the API server on listen.port.",
          }),
        ),
      },
      "Where Prometheus metrics are served.",
    ),
    publicUrl: Type.String({
      pattern: "^https?://[^\\s?#]+$",
      expected: "an http(s) URL without query or fragment",
      description:
        "URL build pods and the action reach the dispatcher at (signed context URLs and status links start with it), e.g. http://dockhand.dockhand.svc:8080.",
    }),
    executor: Type.Union([Type.Literal("auto"), Type.Literal("kubernetes"), Type.Literal("local")], {
      default: "auto",
      description:
        '"kubernetes" creates build Jobs; "local" runs the same plan on a local Docker daemon / BuildKit; "auto" picks kubernetes when running in a cluster or a kubeconfig is set.',
    }),
    kubernetes: section(
      {
        namespace: Type.String({
          pattern: dnsLabel,
          expected: "a namespace name (lowercase letters, digits and -, at most 63)",
          default: "dockhand",
          description: "Namespace build Jobs run in.",
        }),
        kubeconfig: Type.Optional(
          Type.String({ minLength: 1, description: "Path to a kubeconfig; unset means in-cluster credentials." }),
        ),
        leaderElection: section(
          {
            leaseDurationSeconds: Type.Integer({
              minimum: 2,
              maximum: 300,
              default: 15,
              description:
                "How long a standby replica waits after the leader's Lease stopped changing before it takes over (a leader that crashed). A restarted container of the leader's own pod takes it back at once.",
            }),
            renewDeadlineSeconds: Type.Integer({
              minimum: 1,
              maximum: 299,
              default: 10,
              description: "How long the leader keeps reconciling while it cannot renew the Lease; less than leaseDurationSeconds.",
            }),
            retryPeriodSeconds: Type.Integer({
              minimum: 1,
              maximum: 60,
              default: 2,
              description: "How often the leader renews and standbys try; less than renewDeadlineSeconds.",
            }),
          },
          "The Lease that decides which replica reconciles and reports (client-go's defaults: 15/10/2 s). Shorter means a faster takeover after a crash and more Lease writes.",
        ),
      },
      "Where build Jobs are created.",
    ),
    contexts: section(
      {
        dir: Type.String({
          minLength: 1,
          default: "/var/lib/dockhand/contexts",
          description: "Directory uploaded build contexts are stored in.",
        }),
        maxBytes: Type.Integer({
          minimum: 1,
          default: 1024 * 1024 * 1024,
          description: "Largest build context accepted, in bytes (compressed).",
        }),
        maxUnpackedBytes: Type.Integer({
          minimum: 1,
          default: 10 * 1024 * 1024 * 1024,
          description:
            "Largest build context accepted once gunzipped (the tar stream), in bytes; refuses gzip bombs while they stream in.",
        }),
        ttlSeconds: Type.Integer({
          minimum: 60,
          default: 6 * 3600,
          description: "How long an uploaded context and its signed download URLs stay valid.",
        }),
        signingKey: Type.String({
          minLength: 32,
          secret: true,
          description: "HMAC key for signed context download URLs; at least 32 characters (openssl rand -hex 32).",
        }),
      },
      "Build context storage and signed download URLs.",
    ),
    dockerPool: section(
      {
        pools: Type.Object(
          {
            ltsc2019: Type.Optional(WindowsPool("Windows Server 2019 (legacy: AKS retired it in 2026)", "win19")),
            ltsc2022: Type.Optional(WindowsPool("Windows Server 2022", "win22")),
            ltsc2025: Type.Optional(WindowsPool("Windows Server 2025", "win25")),
          },
          {
            additionalProperties: false,
            default: {},
            description:
              "The dockerd node pool of each Windows version, one per version as managed clusters make them (AKS sets the OS SKU per pool); a version not listed has no dockerd pool, and its Windows RUN builds are refused. Keep each in step with the dockerd-<version> DaemonSet.",
          },
        ),
        images: section(
          {
            ltsc2019: ImageRef("Docker CLI image for Windows Server 2019 nodes.", defaultCliImages.ltsc2019),
            ltsc2022: ImageRef("Docker CLI image for Windows Server 2022 nodes.", defaultCliImages.ltsc2022),
            ltsc2025: ImageRef("Docker CLI image for Windows Server 2025 nodes.", defaultCliImages.ltsc2025),
          },
          `Docker CLI image per Windows version: its tag names the CLI version (major-pinned, docker ${pinnedCliMajor} goes with the pool's Engine ${pinnedEngine.version}) and the Windows release it runs on (process isolation).`,
        ),
        maxBuildsPerNode: Type.Integer({
          minimum: 1,
          maximum: 64,
          default: 2,
          description:
            "Builds running at once on one dockerd node; more wait, queued, until a build on that node ends. The work runs inside dockerd, which the scheduler does not see.",
        }),
        buildRequests: ResourceList(
          "What one build uses on its node, requested by the build step: the work runs inside the node's dockerd, which the scheduler does not see, so the build pod reserves it instead (a limit below it is raised to it).",
          { cpu: "1", memory: "2Gi" },
        ),
        daemonNamespace: Type.Optional(
          Type.String({
            pattern: dnsLabel,
            expected: "a namespace name",
            description:
              "Namespace of the dockerd DaemonSets (pods labelled app.kubernetes.io/name=dockerd); builds go only to nodes whose dockerd pod is Ready. Unset means kubernetes.namespace.",
          }),
        ),
      },
      "The Windows node pools whose dockerd builds images with Windows RUN steps.",
    ),
    buildkit: section(
      {
        address: Type.String({
          pattern: "^(tcp|unix)://.+$",
          expected: "an address like tcp://host:1234 or unix:///run/buildkit/buildkitd.sock",
          default: "tcp://buildkitd.dockhand.svc:1234",
          description: "buildkitd address buildctl connects to.",
        }),
        tlsSecret: Type.Optional(
          Type.String({
            pattern: dnsSubdomain,
            expected: "a Secret name (lowercase letters, digits, - and .)",
            description: "Secret with ca.crt, tls.crt and tls.key for mTLS to buildkitd; unset means plain TCP.",
          }),
        ),
        image: ImageRef("Image providing buildctl (same BuildKit release the test bed pins).", "moby/buildkit:v0.34.2"),
        nodeSelector: NodeSelector("Extra node labels for buildctl pods (kubernetes.io/os=linux is always set)."),
        tolerations: Tolerations("Tolerations for buildctl pods."),
        cacheRepository: Type.Optional(
          Type.String({
            minLength: 1,
            maxLength: 255,
            description:
              "Registry repository for BuildKit's registry cache (mode=max), e.g. ghcr.io/org/cache; one tag per repository and platform.",
          }),
        ),
      },
      "The BuildKit pool used for Linux images and Windows images without Windows RUN steps.",
    ),
    buildkitWindows: section(
      {
        versions: Type.Array(Type.Union([Type.Literal("ltsc2019"), Type.Literal("ltsc2022"), Type.Literal("ltsc2025")]), {
          default: [],
          uniqueItems: true,
          description:
            "Windows versions whose dockerd pool nodes also run buildkitd (the buildkitd-windows-<version> component of deploy/, a HostProcess DaemonSet over the node's own containerd): their Windows RUN builds go to BuildKit there (builder buildkit-windows) instead of to dockerd. Empty (off) by default; each listed version needs its dockerPool.pools entry with process isolation. BuildKit on Windows is EXPERIMENTAL upstream (docs/deploy.md).",
        }),
        images: section(
          {
            ltsc2019: ImageRef("buildctl image for Windows Server 2019 nodes.", defaultBuildctlWindowsImages.ltsc2019),
            ltsc2022: ImageRef("buildctl image for Windows Server 2022 nodes.", defaultBuildctlWindowsImages.ltsc2022),
            ltsc2025: ImageRef("buildctl image for Windows Server 2025 nodes.", defaultBuildctlWindowsImages.ltsc2025),
          },
          "buildctl image per Windows version (deploy/images/buildctl-windows): the build pod is process isolated, so its image is of the node's Windows release; keep its BuildKit release that of the buildkitd-windows image.",
        ),
      },
      "BuildKit on the Windows nodes: Windows RUN steps with BuildKit's features (cache mounts, secrets, registry cache, attestations) and no second container engine on the node.",
    ),
    registry: section(
      {
        secretName: Type.Optional(
          Type.String({
            pattern: dnsSubdomain,
            expected: "a Secret name (lowercase letters, digits, - and .)",
            description:
              "kubernetes.io/dockerconfigjson Secret (in the build namespace) mounted into build pods for push and pull credentials.",
          }),
        ),
        insecureRegistries: Type.Array(Type.String({ pattern: hostPort, expected: "a registry host[:port]" }), {
          default: [],
          description: "Registries (host[:port]) BuildKit pushes to, and the dispatcher reads images and pushes indexes at, over plain HTTP.",
        }),
        validatePlatform: Type.Boolean({
          default: true,
          description:
            "Read each pushed image's config and fail a platform whose os / os.version does not match the one requested (a Windows image built on the wrong base runs on no host of that version).",
        }),
      },
      "Registry credentials and transport.",
    ),
    limits: section(
      {
        activeDeadlineSeconds: Type.Integer({
          minimum: 60,
          default: 3600,
          description: "A build Job is stopped after this long.",
        }),
        ttlSecondsAfterFinished: Type.Integer({
          minimum: 300,
          default: 86400,
          description: "Finished Jobs (and their logs) are deleted after this long.",
        }),
        unschedulableAfterSeconds: Type.Integer({
          minimum: 1,
          default: 600,
          description: "A build pod still unschedulable after this long fails the build (no node of that Windows version?).",
        }),
        resources: section(
          {
            requests: ResourceList("Requests of the build pods' containers (docker CLI / buildctl clients).", {
              cpu: "100m",
              memory: "128Mi",
            }),
            limits: ResourceList("Limits of the build pods' containers.", { memory: "1Gi" }),
          },
          "Resources of the client containers; the build itself runs in dockerd or buildkitd.",
        ),
      },
      "Limits applied to every build Job.",
    ),
    github: section(
      {
        apiUrl: Type.String({
          pattern: "^https?://[^\\s?#]+$",
          expected: "an http(s) URL without query or fragment",
          default: "https://api.github.com",
          description: "GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3).",
        }),
        token: Type.Optional(
          Type.String({ minLength: 1, secret: true, description: "Token used for commit statuses when a build brings none." }),
        ),
        app: Type.Optional(
          Type.Object(
            {
              appId: Type.Integer({ minimum: 1, description: "GitHub App ID." }),
              privateKey: Type.String({ minLength: 1, secret: true, description: "GitHub App private key (PEM)." }),
              installationId: Type.Optional(
                Type.Integer({ minimum: 1, description: "Installation ID; unset means looked up per repository." }),
              ),
            },
            { additionalProperties: false, description: "GitHub App used for commit statuses (instead of token)." },
          ),
        ),
      },
      "How the dispatcher writes commit statuses.",
    ),
    auth: section(
      {
        oidc: section(
          {
            issuer: Type.String({
              pattern: "^https?://[^\\s?#]+$",
              expected: "an http(s) URL without query or fragment",
              default: "https://token.actions.githubusercontent.com",
              description:
                "Issuer of GitHub Actions OIDC tokens (the iss claim); GitHub Enterprise Server: https://HOST/_services/token.",
            }),
            audience: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 255,
                description:
                  "Audience the tokens must carry (the Action's audience input, core.getIDToken(audience)); unset means OIDC tokens are not accepted.",
              }),
            ),
            jwksUrl: Type.Optional(
              Type.String({
                pattern: "^https?://[^\\s#]+$",
                expected: "an http(s) URL",
                description: "Where the issuer's signing keys are; unset means the jwks_uri of <issuer>/.well-known/openid-configuration.",
              }),
            ),
            clockSkewSeconds: Type.Integer({
              minimum: 0,
              maximum: 300,
              default: 60,
              description: "Clock difference tolerated when checking a token's exp, nbf and iat.",
            }),
          },
          "GitHub Actions OIDC tokens (Authorization: Bearer).",
        ),
        sharedSecrets: Type.Array(
          Type.Object(
            {
              name: Type.String({
                pattern: dnsLabel,
                expected: "a short name (lowercase letters, digits and -)",
                description: "Names the secret in logs and denials; never the secret itself.",
              }),
              secret: Type.String({ minLength: 32, secret: true, description: "The shared secret; at least 32 characters (openssl rand -hex 32)." }),
              repositories: Type.Array(
                Type.String({ pattern: repositoryPattern, expected: 'a repository pattern: "owner/name", "owner/*" or "*"' }),
                { minItems: 1, description: "Repositories requests signed with this secret may act for." },
              ),
            },
            { additionalProperties: false },
          ),
          {
            default: [],
            documentItems: true,
            description:
              "Secrets for requests signed with HMAC-SHA256 (X-Hub-Signature-256, timestamp, nonce): each {name, secret, repositories}. Any holder may act for those repositories, with any ref and sha: prefer OIDC.",
          },
        ),
        buildReads: Type.Union([Type.Literal("capability"), Type.Literal("authenticated")], {
          default: "capability",
          description:
            '"capability": GET of a build and its logs needs only the build id (unguessable, in the status link repository readers see); "authenticated": the same credentials as writes, for that repository.',
        }),
        buildList: Type.Union([Type.Literal("authenticated"), Type.Literal("open")], {
          default: "authenticated",
          description:
            '"authenticated": GET /v1/builds (the list, JSON and the builds page) needs credentials and shows what they cover; "open": anyone who reaches it sees every build, and so every build id: only behind your own sign-in (an SSO proxy such as oauth2-proxy) or on a network only your team reaches.',
        }),
        disabled: Type.Boolean({
          default: false,
          description:
            "No authentication and no policy: only for a development dispatcher listening on loopback (npm start without config sets it).",
        }),
      },
      "Who may call the API.",
    ),
    webhooks: section(
      {
        secret: Type.Optional(
          Type.String({
            minLength: 16,
            secret: true,
            description: "Secret of the GitHub webhook sending to /webhooks/github; unset means webhooks are refused.",
          }),
        ),
      },
      "GitHub webhooks that cancel builds (pull_request closed/synchronize, workflow_run/workflow_job cancelled).",
    ),
    policy: section(
      {
        repositories: Type.Array(RepositoryRule, {
          default: [],
          documentItems: true,
          description:
            "Per-repository rules, first match wins; a repository no rule matches may not build. See docs/security.md for each field.",
        }),
      },
      "What each repository may do; re-read from the config file on SIGHUP.",
    ),
    statusContextPrefix: Type.String({
      pattern: "^[A-Za-z0-9][A-Za-z0-9._/ -]*$",
      expected: "a status context prefix (letters, digits, space, ., _, / and -)",
      maxLength: 100,
      default: "dockhand",
      description: 'Commit status contexts are "<prefix>/<platform>" unless a request sets statusContext.',
    }),
    local: section(
      {
        dockerHost: Type.Optional(
          Type.String({
            pattern: "^(unix|npipe|tcp)://.+$",
            expected: "a Docker host like unix:///var/run/docker.sock or npipe:////./pipe/docker_engine",
            description: "Docker daemon for the local executor; unset means DOCKER_HOST or the default socket.",
          }),
        ),
        buildkitAddress: Type.Optional(
          Type.String({
            pattern: "^(tcp|unix)://.+$",
            expected: "an address like tcp://host:1234 or unix:///run/buildkit/buildkitd.sock",
            description: "buildkitd for the local executor; unset means buildkit.address.",
          }),
        ),
      },
      "The local executor (development and tests).",
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

/**
 * Environment variables that override single keys (for secrets and the few
 * things a deployment sets per environment). Values are strings; integer keys
 * are parsed.
 */
export const envOverrides = [
  { env: "DOCKHAND_LISTEN_HOST", key: "listen.host" },
  { env: "DOCKHAND_LISTEN_PORT", key: "listen.port" },
  { env: "DOCKHAND_METRICS_PORT", key: "metrics.port" },
  { env: "DOCKHAND_PUBLIC_URL", key: "publicUrl" },
  { env: "DOCKHAND_EXECUTOR", key: "executor" },
  { env: "DOCKHAND_NAMESPACE", key: "kubernetes.namespace" },
  { env: "DOCKHAND_KUBECONFIG", key: "kubernetes.kubeconfig" },
  { env: "DOCKHAND_SIGNING_KEY", key: "contexts.signingKey" },
  { env: "DOCKHAND_CONTEXTS_DIR", key: "contexts.dir" },
  { env: "DOCKHAND_GITHUB_API_URL", key: "github.apiUrl" },
  { env: "DOCKHAND_GITHUB_TOKEN", key: "github.token" },
  { env: "DOCKHAND_GITHUB_APP_ID", key: "github.app.appId" },
  { env: "DOCKHAND_GITHUB_APP_PRIVATE_KEY", key: "github.app.privateKey" },
  { env: "DOCKHAND_GITHUB_APP_INSTALLATION_ID", key: "github.app.installationId" },
  { env: "DOCKHAND_OIDC_AUDIENCE", key: "auth.oidc.audience" },
  { env: "DOCKHAND_OIDC_ISSUER", key: "auth.oidc.issuer" },
  { env: "DOCKHAND_AUTH_DISABLED", key: "auth.disabled" },
  { env: "DOCKHAND_WEBHOOK_SECRET", key: "webhooks.secret" },
  // deploy/ sets these in the Deployment, where an overlay's kustomize `images:` entry changes them with the docker-cli DaemonSets.
  { env: "DOCKHAND_DOCKER_POOL_IMAGES_LTSC2019", key: "dockerPool.images.ltsc2019" },
  { env: "DOCKHAND_DOCKER_POOL_IMAGES_LTSC2022", key: "dockerPool.images.ltsc2022" },
  { env: "DOCKHAND_DOCKER_POOL_IMAGES_LTSC2025", key: "dockerPool.images.ltsc2025" },
] as const;

/** The variable naming the config file (YAML or JSON). */
export const configFileEnv = "DOCKHAND_CONFIG";

export interface ConfigKeyDescription {
  /** Dotted path: `contexts.signingKey`. */
  readonly key: string;
  readonly type: string;
  readonly required: boolean;
  /** JSON of the default, or undefined when there is none. */
  readonly default: string | undefined;
  readonly secret: boolean;
  readonly env: string | undefined;
  readonly description: string;
}

/** One row per leaf key, in schema order: the source of the config table in docs/configuration.md. */
export function describeConfig(): ConfigKeyDescription[] {
  const rows: ConfigKeyDescription[] = [];
  const walk = (schema: TSchema, prefix: string, required: boolean) => {
    const properties = schema["properties"] as Record<string, TSchema> | undefined;
    // An object with a non-empty default (resource lists) is documented as one
    // value, since its fields have no defaults of their own.
    const wholeDefault = schema["default"] !== undefined && Object.keys(schema["default"] as object).length > 0;
    if (schema["type"] === "object" && properties && !wholeDefault) {
      const requiredKeys = new Set((schema["required"] as string[] | undefined) ?? []);
      for (const [name, child] of Object.entries(properties)) {
        walk(child, prefix === "" ? name : `${prefix}.${name}`, required && requiredKeys.has(name));
      }
      return;
    }
    rows.push({
      key: prefix,
      type: typeName(schema),
      required: required && schema["default"] === undefined,
      default: schema["default"] === undefined ? undefined : JSON.stringify(schema["default"]),
      secret: schema["secret"] === true,
      env: envOverrides.find((override) => override.key === prefix)?.env,
      description: String(schema["description"] ?? ""),
    });
    // Lists of rules document their fields too (policy.repositories[].dockerPool.refs).
    const items = schema["items"] as TSchema | undefined;
    if (schema["type"] === "array" && schema["documentItems"] === true && items?.["properties"]) {
      const requiredKeys = new Set((items["required"] as string[] | undefined) ?? []);
      for (const [name, child] of Object.entries(items["properties"] as Record<string, TSchema>)) {
        walk(child, `${prefix}[].${name}`, requiredKeys.has(name));
      }
    }
  };
  walk(ConfigSchema, "", true);
  return rows;
}

function typeName(schema: TSchema): string {
  if (Array.isArray(schema["anyOf"])) {
    return (schema["anyOf"] as TSchema[]).map((option) => JSON.stringify(option["const"])).join(" | ");
  }
  if (schema["type"] === "array") {
    const items = schema["items"] as TSchema;
    if (items["type"] === "object") return "list of objects";
    return Array.isArray(items["anyOf"]) ? `list of ${typeName(items)}` : `list of ${String(items["type"])}`;
  }
  if (schema["type"] === "object") return schema["properties"] ? "object" : "map of string";
  return String(schema["type"]);
}
