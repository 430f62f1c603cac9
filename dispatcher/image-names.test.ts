import { describe, expect, it } from "vitest";
import { kubeletImageNames, listsImage } from "./image-names.js";

describe("kubeletImageNames", () => {
  it.each([
    ["docker:29-windowsservercore-ltsc2022", { tagged: "docker.io/library/docker:29-windowsservercore-ltsc2022", digested: undefined }],
    ["docker.io/library/docker:29", { tagged: "docker.io/library/docker:29", digested: undefined }],
    ["index.docker.io/docker:29", { tagged: "docker.io/library/docker:29", digested: undefined }],
    ["myorg/docker", { tagged: "docker.io/myorg/docker:latest", digested: undefined }],
    ["myacr.azurecr.io/mirror/docker:29", { tagged: "myacr.azurecr.io/mirror/docker:29", digested: undefined }],
    ["localhost:5000/docker:29", { tagged: "localhost:5000/docker:29", digested: undefined }],
    [`docker@sha256:${"a".repeat(64)}`, { tagged: undefined, digested: `docker.io/library/docker@sha256:${"a".repeat(64)}` }],
    [`docker:29@sha256:${"a".repeat(64)}`, { tagged: "docker.io/library/docker:29", digested: `docker.io/library/docker@sha256:${"a".repeat(64)}` }],
    ["Not A Reference", undefined],
  ])("%s", (reference, expected) => {
    expect(kubeletImageNames(reference)).toEqual(expected);
  });
});

describe("listsImage", () => {
  const digest = `sha256:${"b".repeat(64)}`;
  const onNode = [`docker.io/library/docker@${digest}`, "docker.io/library/docker:29-windowsservercore-ltsc2022"];
  it.each([
    ["the short name of the listed tag", "docker:29-windowsservercore-ltsc2022", true],
    ["another tag", "docker:29-windowsservercore-ltsc2025", false],
    ["the listed digest", `docker@${digest}`, true],
    ["tag and the listed digest", `docker:29-windowsservercore-ltsc2022@${digest}`, true],
    ["the listed tag with another digest: the digest decides", `docker:29-windowsservercore-ltsc2022@sha256:${"c".repeat(64)}`, false],
    ["same tag in another registry", "myacr.azurecr.io/docker:29-windowsservercore-ltsc2022", false],
  ])("%s", (_name, wanted, expected) => {
    expect(listsImage(onNode, wanted)).toBe(expected);
  });
});
