// JSON pointers from schema validation (/platforms/1, /buildArgs/FOO) turned
// into the names users write: platforms[1], buildArgs.FOO, labels["a.b"].
// Shared by the build request's and the config's error messages.

export function pointerSegments(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"));
}

export interface FieldPathStyle {
  /** Keys written `parent.key`; any other key is written `parent["key"]`. */
  plainKey: RegExp;
  /** The name of the whole document (an error about the top level). */
  root: string;
}

/** `pointer` into `document` as a field path: array indexes in brackets, object keys dotted or quoted. */
export function fieldPath(pointer: string, document: unknown, style: FieldPathStyle): string {
  let name = "";
  let node: unknown = document;
  for (const segment of pointerSegments(pointer)) {
    if (Array.isArray(node)) name += `[${segment}]`;
    else name = name === "" ? segment : memberPath(name, segment, style);
    node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[segment] : undefined;
  }
  return name || style.root;
}

/** `parent.key`, or `parent["key"]` when the key is not plain. */
export function memberPath(parent: string, key: string, style: FieldPathStyle): string {
  return style.plainKey.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}
