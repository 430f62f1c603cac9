// Checks requests against GitHub's published OpenAPI description (the
// api.github.com document shipped in @octokit/openapi), so the stand-in
// rejects what GitHub would reject instead of what we guessed it would.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsPlugin from "ajv-formats";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: JsonObject;
}

export interface Operation {
  operationId: string;
  method: string;
  /** The path template, e.g. /repos/{owner}/{repo}/statuses/{sha}. */
  template: string;
  /** GitHub documents these as callable only with an App's JWT ("You must use a JWT"). */
  requiresAppJwt: boolean;
  raw: JsonObject;
}

export interface OperationMatch {
  operation: Operation;
  pathParams: Record<string, string>;
}

export interface Validation {
  valid: boolean;
  problems: string[];
}

interface Route {
  operation: Operation;
  pattern: RegExp;
  paramNames: string[];
  literalSegments: number;
}

/** Loaded once per process: parsing the 13 MB document takes a noticeable fraction of a second. */
let loaded: GitHubOpenApi | undefined;

export function gitHubOpenApi(): GitHubOpenApi {
  loaded ??= new GitHubOpenApi(readSpec());
  return loaded;
}

function readSpec(): JsonObject {
  // The package's index.js requires every variant (~400 MB); read just the one document.
  const path = createRequire(import.meta.url).resolve("@octokit/openapi/generated/api.github.com.json");
  return JSON.parse(readFileSync(path, "utf8")) as JsonObject;
}

const httpMethods = ["get", "put", "post", "delete", "patch", "head", "options"];

export class GitHubOpenApi {
  private readonly routes = new Map<string, Route[]>();
  private readonly components: JsonObject;
  // OpenAPI 3.0 adds keywords JSON Schema lacks (nullable, example, x-*); strict
  // mode would refuse them. Ajv implements `nullable` itself.
  private readonly bodies = new Ajv({ strict: false, allErrors: true, logger: false });
  private readonly params = new Ajv({ strict: false, allErrors: true, logger: false, coerceTypes: true });
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(private readonly spec: JsonObject) {
    this.components = (spec.components ?? {}) as JsonObject;
    for (const ajv of [this.bodies, this.params]) addFormats(ajv);
    for (const [template, item] of Object.entries(spec.paths as JsonObject)) {
      for (const method of httpMethods) {
        const raw = (item as JsonObject)[method] as JsonObject | undefined;
        if (raw === undefined) continue;
        const operation: Operation = {
          operationId: String(raw.operationId),
          method: method.toUpperCase(),
          template,
          requiresAppJwt: /must use a \[JWT\]/i.test(String(raw.description ?? "")),
          raw,
        };
        const list = this.routes.get(operation.method) ?? [];
        list.push(this.route(operation));
        this.routes.set(operation.method, list);
      }
    }
    // A literal segment beats a parameter: /repos/{owner}/{repo}/installation
    // must not be taken for some /repos/{owner}/{repo}/{x} operation.
    for (const list of this.routes.values()) list.sort((a, b) => b.literalSegments - a.literalSegments);
  }

  /** The operation GitHub would run for this method and path, or undefined (GitHub: 404). */
  match(method: string, pathname: string): OperationMatch | undefined {
    for (const route of this.routes.get(method.toUpperCase()) ?? []) {
      const found = route.pattern.exec(pathname);
      if (found === null) continue;
      const pathParams: Record<string, string> = {};
      route.paramNames.forEach((name, i) => {
        pathParams[name] = decodeURIComponent(found[i + 1] ?? "");
      });
      return { operation: route.operation, pathParams };
    }
    return undefined;
  }

  /** Path and query parameters against their declared schemas; required ones present. */
  validateParameters(match: OperationMatch, query: URLSearchParams): Validation {
    const problems: string[] = [];
    for (const where of ["path", "query"] as const) {
      const declared = this.parameters(match.operation).filter((p) => p.in === where);
      const values: JsonObject = {};
      for (const parameter of declared) {
        const value = where === "path" ? match.pathParams[parameter.name] : query.get(parameter.name);
        if (value !== undefined && value !== null) values[parameter.name] = value;
      }
      const validate = this.compiled(`${match.operation.operationId} ${where}`, this.params, () => ({
        type: "object",
        properties: Object.fromEntries(declared.map((p) => [p.name, p.schema ?? {}])),
        required: declared.filter((p) => p.required === true).map((p) => p.name),
      }));
      if (!validate(values)) problems.push(...describe(validate.errors, where));
    }
    return { valid: problems.length === 0, problems };
  }

  /** The JSON body against the operation's requestBody schema. */
  validateBody(operation: Operation, body: Json | undefined): Validation {
    const requestBody = this.resolve(operation.raw.requestBody) as JsonObject | undefined;
    if (requestBody === undefined) return { valid: true, problems: [] };
    if (body === undefined) {
      return requestBody.required === true ? { valid: false, problems: ["body: required but missing"] } : { valid: true, problems: [] };
    }
    const schema = ((requestBody.content as JsonObject)?.["application/json"] as JsonObject | undefined)?.schema;
    if (schema === undefined) return { valid: false, problems: ["body: operation takes no JSON body"] };
    const validate = this.compiled(`${operation.operationId} body`, this.bodies, () => this.standalone(schema));
    return validate(body) ? { valid: true, problems: [] } : { valid: false, problems: describe(validate.errors, "body") };
  }

  /** A response the stand-in is about to send, against the documented schema for that status. */
  validateResponse(operation: Operation, status: number, body: Json): Validation {
    const responses = (operation.raw.responses ?? {}) as JsonObject;
    const response = this.resolve(responses[String(status)]) as JsonObject | undefined;
    if (response === undefined) return { valid: false, problems: [`response: ${status} is not documented`] };
    const schema = ((response.content as JsonObject)?.["application/json"] as JsonObject | undefined)?.schema;
    if (schema === undefined) return { valid: true, problems: [] };
    const validate = this.compiled(`${operation.operationId} ${status}`, this.bodies, () => this.standalone(schema));
    return validate(body) ? { valid: true, problems: [] } : { valid: false, problems: describe(validate.errors, "response") };
  }

  /** The documented example for a response, deep-copied so callers may edit it. */
  exampleResponse(operation: Operation, status: number): JsonObject {
    const response = this.resolve(((operation.raw.responses ?? {}) as JsonObject)[String(status)]) as JsonObject;
    const media = (response.content as JsonObject)["application/json"] as JsonObject;
    // Most operations name their example "default"; some (repos/get: "default-response") name it otherwise.
    const examples = media.examples as JsonObject;
    const example = this.resolve(examples.default ?? Object.values(examples)[0]!) as JsonObject;
    return structuredClone(example.value) as JsonObject;
  }

  private parameters(operation: Operation): Parameter[] {
    return ((operation.raw.parameters ?? []) as Json[]).map((p) => this.resolve(p) as unknown as Parameter);
  }

  private route(operation: Operation): Route {
    const paramNames: string[] = [];
    let literalSegments = 0;
    const multiSegment = new Set(
      this.parameters(operation)
        .filter((p) => (p as unknown as JsonObject)["x-multi-segment"] === true)
        .map((p) => p.name),
    );
    const source = operation.template
      .split("/")
      .map((segment) => {
        // Segments may mix literals and parameters, e.g. /compare/{basehead} or {owner}.{repo}.
        if (!segment.includes("{")) {
          if (segment !== "") literalSegments++;
          return escapeRegExp(segment);
        }
        return segment.split(/(\{[^}]+\})/).map((part) => {
          const name = /^\{([^}]+)\}$/.exec(part)?.[1];
          if (name === undefined) return escapeRegExp(part);
          paramNames.push(name);
          return multiSegment.has(name) ? "(.+)" : "([^/]+)";
        }).join("");
      })
      .join("/");
    return { operation, pattern: new RegExp(`^${source}$`), paramNames, literalSegments };
  }

  /** Follows a local `$ref` (components/parameters, requestBodies, responses, examples). */
  private resolve(value: Json | undefined): Json | undefined {
    let current = value;
    for (let hops = 0; hops < 10 && isObject(current) && typeof current.$ref === "string"; hops++) {
      current = pointer(this.spec, current.$ref);
    }
    return current;
  }

  /**
   * Turns a schema with `#/components/schemas/X` references into one
   * self-contained schema: every schema it reaches is copied under
   * `definitions` and the references rewritten to point there. Ajv then
   * handles recursion itself. (`allOf` keeps the root's own keywords apart
   * from `definitions`, so a root that is itself a `$ref` still works.)
   */
  private standalone(schema: Json): JsonObject {
    const definitions: JsonObject = {};
    const pending: string[] = [];
    const rewrite = (node: Json): Json => {
      if (Array.isArray(node)) return node.map(rewrite);
      if (!isObject(node)) return node;
      const out: JsonObject = {};
      for (const [key, value] of Object.entries(node)) {
        if (key === "$ref" && typeof value === "string") {
          const name = /^#\/components\/schemas\/(.+)$/.exec(value)?.[1];
          if (name === undefined) throw new Error(`unsupported $ref ${value}`);
          if (!(name in definitions)) {
            definitions[name] = null;
            pending.push(name);
          }
          out.$ref = `#/definitions/${name}`;
        } else if (key === "example" || key === "examples" || key.startsWith("x-")) {
          continue;
        } else {
          out[key] = rewrite(value);
        }
      }
      // OpenAPI 3.0 allows `nullable` beside allOf/anyOf without a `type`; Ajv
      // only implements it next to `type`, so spell that case out.
      if (out.nullable !== undefined && out.type === undefined) {
        const { nullable, ...rest } = out;
        return nullable === true ? { anyOf: [rest, { type: "null" }] } : rest;
      }
      return out;
    };
    const root = rewrite(schema);
    for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
      definitions[name] = rewrite((this.components.schemas as JsonObject)[name] ?? {});
    }
    return { allOf: [root], definitions };
  }

  private compiled(key: string, ajv: Ajv, build: () => JsonObject): ValidateFunction {
    let validate = this.cache.get(key);
    if (validate === undefined) {
      validate = ajv.compile(build());
      this.cache.set(key, validate);
    }
    return validate;
  }
}

function addFormats(ajv: Ajv): void {
  // ajv-formats is CommonJS: under NodeNext the default import is module.exports,
  // which carries the plugin again as `.default`.
  addFormatsPlugin.default(ajv);
}

function describe(errors: ErrorObject[] | null | undefined, where: string): string[] {
  return (errors ?? []).map((error) => {
    const at = error.instancePath === "" ? where : `${where}${error.instancePath.replaceAll("/", ".")}`;
    const allowed = error.keyword === "enum" ? ` (${(error.params as { allowedValues: Json[] }).allowedValues.join(", ")})` : "";
    return `${at}: ${error.message ?? error.keyword}${allowed}`;
  });
}

function pointer(document: JsonObject, ref: string): Json | undefined {
  if (!ref.startsWith("#/")) return undefined;
  let node: Json | undefined = document;
  for (const part of ref.slice(2).split("/")) {
    if (!isObject(node)) return undefined;
    node = node[part.replaceAll("~1", "/").replaceAll("~0", "~")];
  }
  return node;
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export type { Json, JsonObject };
