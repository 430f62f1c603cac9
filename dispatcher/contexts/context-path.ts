import { posix } from "node:path";
import { ContextError } from "./errors.js";

/**
 * Normalises a path inside a build context (the request's `file`) to the form
 * tar entries are compared in: relative, forward slashes, no `.` segments.
 * Any `..` segment is refused outright rather than resolved: the contract says
 * the path stays inside the context, and "a/../b" is more likely a mistake
 * than an intent.
 */
export function normaliseContextPath(path: string, field = "file"): string {
  const refuse = (why: string, hint: string): never => {
    throw new ContextError("invalid-path", `${field}: ${JSON.stringify(path)} ${why}`, hint);
  };
  if (path.length === 0) refuse("is empty", "give the Dockerfile's path relative to the context root, e.g. Dockerfile");
  if (path.length > 4096) refuse("is longer than 4096 characters", "give a shorter path");
  if (path.includes("\0")) refuse("contains a NUL byte", "remove it");
  if (path.includes("\\")) refuse("contains a backslash", "use forward slashes, e.g. docker/Dockerfile");
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) {
    refuse("is absolute", "give the path relative to the context root, e.g. docker/Dockerfile");
  }
  if (path.split("/").includes("..")) refuse("leaves the context (..)", "give a path inside the context");
  const normalised = posix.normalize(path).replace(/\/+$/, "");
  if (normalised === "." || normalised === "") refuse("names the context root", "name a file, e.g. Dockerfile");
  return normalised;
}

/**
 * Normalises a tar entry name ("./a/b", "a//b", "/a/b") for comparison. Names
 * that would leave the archive root come back with a leading "../" and so can
 * never equal a path accepted by {@link normaliseContextPath}.
 */
export function normaliseEntryName(name: string): string {
  const withoutRoot = name.replace(/^\/+/, "");
  return posix.normalize(withoutRoot === "" ? "." : withoutRoot).replace(/\/+$/, "");
}
