// The contract stays one place: the Action reaches into dispatcher/ only for
// dispatcher/protocol/, protocol/ depends on nothing else of the dispatcher,
// and the Action takes the TypeBox schema modules as types only, so its
// bundle (dist/, committed) carries no schema code.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
/** Modules that build TypeBox schemas when loaded. */
const schemaModules = ["build-request", "build-state", "error-body"].map((name) => `dispatcher/protocol/${name}.ts`);

interface Import {
  from: string;
  /** Relative to the repository root, for a relative specifier; else the package name. */
  target: string;
  typeOnly: boolean;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(join(root, file), "utf8");
  return [...text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[\s\S]*?\s+from\s+)?"([^"]+)";/gm)].map((match) => {
    const from = match[2]!;
    const target = from.startsWith(".") ? relative(root, resolve(root, dirname(file), from)).replace(/\.js$/, ".ts") : from;
    return { from, target, typeOnly: match[1] !== undefined };
  });
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).filter((name) => name.endsWith(".ts")).map((name) => `${dir}/${name}`);
}

describe("imports across the contract", () => {
  it("action/ imports nothing of dispatcher/ but dispatcher/protocol/", () => {
    const outside = tsFiles("action").flatMap((file) =>
      importsOf(file)
        .filter((i) => i.target.startsWith("dispatcher/") && !i.target.startsWith("dispatcher/protocol/"))
        .map((i) => `${file}: ${i.from}`),
    );
    expect(outside).toEqual([]);
  });

  it("action/ (tests aside) imports the schema modules as types only", () => {
    const valueImports = tsFiles("action")
      .filter((file) => !file.endsWith(".test.ts"))
      .flatMap((file) => importsOf(file).filter((i) => schemaModules.includes(i.target) && !i.typeOnly).map((i) => `${file}: ${i.from}`));
    expect(valueImports).toEqual([]);
    // The reading above finds them at all: the client takes the build state's type.
    expect(importsOf("action/client.ts")).toContainEqual({ from: "../dispatcher/protocol/build-state.js", target: "dispatcher/protocol/build-state.ts", typeOnly: true });
  });

  it("dispatcher/protocol/ imports only itself, TypeBox and node: modules", () => {
    const others = tsFiles("dispatcher/protocol").flatMap((file) =>
      importsOf(file)
        .filter((i) => !i.target.startsWith("dispatcher/protocol/") && !i.target.startsWith("@sinclair/typebox") && !i.target.startsWith("node:") && i.from !== "vitest" && i.from !== "fast-check")
        .map((i) => `${file}: ${i.from}`),
    );
    expect(others).toEqual([]);
  });
});
