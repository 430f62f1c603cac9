// Image references, following the grammar of github.com/distribution/reference
// (reference.go, regexp.go, normalize.go) — the parser docker, BuildKit and
// containerd all use, so a reference accepted here is accepted by both builders.
//
// Written here rather than taken from npm: `docker-parse-image` is a loose regex
// (accepts upper-case repositories, any tag, no length limit), and
// `@swimlane/docker-reference` (last change 2023) tracks an older grammar without
// IPv6 registries. A strict parser is ~100 lines and easy to test.
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [domain "/"] path-component ["/" path-component]*
//   domain           := host [":" port]
//   host             := domain-name | "[" IPv6 "]"
//   path-component   := [a-z0-9]+ (separator [a-z0-9]+)*
//   separator        := [_.] | "__" | "-"+
//   tag              := [\w][\w.-]{0,127}
//   digest           := algorithm ":" hex       (sha256: 64 hex digits)

export interface ImageReference {
  /** Registry host[:port] exactly as written; undefined means Docker Hub. */
  readonly domain: string | undefined;
  /** Repository path inside the registry, as written (`library/` is not added). */
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

export type ImageReferenceResult =
  | { readonly ok: true; readonly reference: ImageReference }
  | { readonly ok: false; readonly problem: string };

const nameTotalLengthMax = 255;
const pathComponent = /^[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*$/;
const domainName = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*$/;
const ipv6Host = /^\[[a-fA-F0-9:]+\]$/;
const port = /^[0-9]+$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):([0-9a-fA-F]{32,})$/;
// go-digest accepts only these algorithms, each with a fixed length of lowercase hex.
const digestHexLength: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

export function parseImageReference(value: string): ImageReferenceResult {
  const problem = (text: string): ImageReferenceResult => ({ ok: false, problem: text });
  if (value === "") return problem("is empty");
  if (/\s/.test(value)) return problem("contains whitespace");

  let rest = value;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const match = digestPattern.exec(digest);
    if (!match) return problem(`has an invalid digest ${JSON.stringify(digest)} (expected sha256:<64 hex digits>)`);
    const [, algorithm, hex] = match as unknown as [string, string, string];
    const expected = digestHexLength[algorithm];
    if (expected === undefined) return problem(`uses an unsupported digest algorithm ${JSON.stringify(algorithm)}`);
    if (hex.length !== expected || hex !== hex.toLowerCase()) {
      return problem(`has an invalid digest: ${algorithm} needs ${expected} lowercase hex digits`);
    }
  }

  // A tag is whatever follows the last ":" after the last "/"; a ":" before
  // that belongs to the registry port.
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.indexOf(":", lastSlash + 1);
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) {
      return problem(
        `has an invalid tag ${JSON.stringify(tag)} (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")`,
      );
    }
  }

  const name = rest;
  if (name === "") return problem("has no repository name");
  if (name.length > nameTotalLengthMax) return problem(`has a repository name longer than ${nameTotalLengthMax} characters`);

  const { domain, path } = splitDomain(name);
  if (domain !== undefined) {
    const domainProblem = checkDomain(domain);
    if (domainProblem) return problem(domainProblem);
  }
  if (path === "") return problem("has no repository path after the registry");
  for (const component of path.split("/")) {
    if (!pathComponent.test(component)) {
      if (component !== component.toLowerCase()) return problem("has a repository name that is not lowercase");
      return problem(
        `has an invalid repository path component ${JSON.stringify(component)} (lowercase letters and digits, separated by ".", "_", "__" or "-")`,
      );
    }
  }
  // normalize.go rejects these: docker would read them as an image ID.
  if (domain === undefined && /^[a-f0-9]{64}$/.test(path)) {
    return problem("is a 64-character hex string, which docker reads as an image ID, not a repository");
  }
  return { ok: true, reference: { domain, path, tag, digest } };
}

// normalize.go's splitDockerDomain: the first component is a registry only if
// it looks like a host (has "." or ":", is "localhost", or has upper case);
// otherwise the whole name is a Docker Hub path.
function splitDomain(name: string): { domain: string | undefined; path: string } {
  const slash = name.indexOf("/");
  if (slash === -1) return { domain: undefined, path: name };
  const first = name.slice(0, slash);
  const isHost = /[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase();
  return isHost ? { domain: first, path: name.slice(slash + 1) } : { domain: undefined, path: name };
}

function checkDomain(domain: string): string | undefined {
  const portColon = domain.startsWith("[") ? domain.indexOf(":", domain.indexOf("]")) : domain.indexOf(":");
  const host = portColon === -1 ? domain : domain.slice(0, portColon);
  const portText = portColon === -1 ? undefined : domain.slice(portColon + 1);
  if (!domainName.test(host) && !ipv6Host.test(host)) return `has an invalid registry host ${JSON.stringify(host)}`;
  if (portText !== undefined && !port.test(portText)) return `has an invalid registry port ${JSON.stringify(portText)}`;
  return undefined;
}

/** `registry/path` as written, without tag or digest: what `docker push` addresses. */
export function repositoryName(reference: ImageReference): string {
  return reference.domain === undefined ? reference.path : `${reference.domain}/${reference.path}`;
}

/** The registry host a reference talks to, with Docker Hub spelled out. */
export function registryHost(reference: ImageReference): string {
  return reference.domain ?? "docker.io";
}

/** The repository as the /v2/ API names it: no host, and Docker Hub's official images under library/. */
export function apiRepository(reference: ImageReference): string {
  return reference.domain === undefined && !reference.path.includes("/") ? `library/${reference.path}` : reference.path;
}

export function formatImageReference(reference: ImageReference): string {
  let text = repositoryName(reference);
  if (reference.tag !== undefined) text += `:${reference.tag}`;
  if (reference.digest !== undefined) text += `@${reference.digest}`;
  return text;
}
