// How deeply a parsed JSON value nests. JSON.parse copes with any depth, but
// code that walks a value recursively (validators, loggers, JSON.stringify of
// an echoed field) may not, and no request the dispatcher takes nests deeper
// than a few levels: a deep body is refused before anything looks inside it.

/** Whether `value` nests arrays or objects more than `maxDepth` levels deep. Iterative: safe at any depth. */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 0 }];
  while (pending.length > 0) {
    const { node, depth } = pending.pop() as { node: unknown; depth: number };
    if (typeof node !== "object" || node === null) continue;
    if (depth + 1 > maxDepth) return true;
    for (const child of Object.values(node)) {
      if (typeof child === "object" && child !== null) pending.push({ node: child, depth: depth + 1 });
    }
  }
  return false;
}
