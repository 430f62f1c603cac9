import { describe, expect, it } from "vitest";
import { imageUnderPrefix, parseImagePrefix } from "./image-prefix.js";

describe("image prefixes", () => {
  it.each([
    { tag: "ghcr.io/octo-org/app:1", prefixes: ["ghcr.io/octo-org"], under: true },
    { tag: "ghcr.io/octo-org/app:1", prefixes: ["ghcr.io/octo-org/"], under: true },
    { tag: "ghcr.io/octo-org/app:1", prefixes: ["ghcr.io/octo-org/app"], under: true },
    { tag: "ghcr.io/octo-org/team/app:1", prefixes: ["ghcr.io/octo-org"], under: true },
    { tag: "ghcr.io/octo-org-evil/app:1", prefixes: ["ghcr.io/octo-org"], under: false },
    { tag: "ghcr.io/octo-org/app-evil:1", prefixes: ["ghcr.io/octo-org/app"], under: false },
    { tag: "GHCR.IO/octo-org/app:1", prefixes: ["ghcr.io"], under: true },
    { tag: "ghcr.io/octo-org/app:1", prefixes: ["docker.io/octo-org"], under: false },
    { tag: "alpine:3", prefixes: ["docker.io/library"], under: true },
    { tag: "octo/app:1", prefixes: ["docker.io/octo"], under: true },
    { tag: "octo/app:1", prefixes: ["index.docker.io/octo"], under: true },
    { tag: "docker.io/octo/app:1", prefixes: ["docker.io/octo"], under: true },
    { tag: "octo/app:1", prefixes: ["docker.io/library"], under: false },
    { tag: "127.0.0.1:15000/bed/app:1", prefixes: ["127.0.0.1:15000"], under: true },
    { tag: "127.0.0.1:15000/bed/app:1", prefixes: ["127.0.0.1:15001"], under: false },
    { tag: "anything.example/x:1", prefixes: ["*"], under: true },
    { tag: "ghcr.io/octo-org/app:1", prefixes: [], under: false },
  ])("$tag under $prefixes: $under", ({ tag, prefixes, under }) => {
    expect(imageUnderPrefix(tag, prefixes)).toBe(under);
  });

  it.each([
    { text: "ghcr.io/octo-org/", expected: { ok: true, prefix: "ghcr.io/octo-org" } },
    { text: "index.docker.io/octo", expected: { ok: true, prefix: "docker.io/octo" } },
    { text: "localhost:5000", expected: { ok: true, prefix: "localhost:5000" } },
    { text: "*", expected: { ok: true, prefix: "*" } },
    { text: "octo-org/app", expected: { ok: false, problem: 'does not start with a registry host (e.g. "ghcr.io/octo-org", "docker.io/octo")' } },
    { text: "ghcr.io/Octo", expected: { ok: false } },
    { text: "ghcr.io/octo/app:1", expected: { ok: false, problem: "names a tag or digest; give a registry/path prefix, e.g. ghcr.io/octo-org" } },
  ])("parses $text", ({ text, expected }) => {
    expect(parseImagePrefix(text)).toMatchObject(expected);
  });
});
