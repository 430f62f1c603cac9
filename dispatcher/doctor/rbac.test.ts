// The doctor's one list of what the dispatcher needs is deploy/base's Role,
// rule for rule: a verb added to the code's list and not to the Role (or the
// other way) fails here.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { dispatcherPermissions } from "./rbac.js";

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const role = parseAllDocuments(readFileSync(new URL("../../deploy/base/rbac/rbac.yaml", import.meta.url), "utf8"))
  .map((doc) => doc.toJSON() as { kind: string; rules?: Rule[] })
  .find((doc) => doc.kind === "Role")!;

const key = (group: string, resource: string, verb: string, name = "") => `${group}|${resource}|${verb}|${name}`;

describe("dispatcherPermissions", () => {
  it("is exactly deploy/base's Role", () => {
    const fromRole = role.rules!.flatMap((rule) =>
      rule.apiGroups.flatMap((group) => rule.resources.flatMap((resource) => rule.verbs.flatMap((verb) => (rule.resourceNames ?? [""]).map((name) => key(group, resource, verb, name))))),
    );
    const fromCode = dispatcherPermissions.map((p) => key(p.group, p.subresource ? `${p.resource}/${p.subresource}` : p.resource, p.verb, p.name));
    expect(fromCode.sort()).toEqual(fromRole.sort());
    expect(dispatcherPermissions.every((p) => p.scope === "namespace")).toBe(true);
  });
});
