import { defineConfig } from "vitest/config";

// Two projects: "unit" needs nothing but Node; "bed" runs against the real
// test bed (Kubernetes control plane, dockerd, registry, BuildKit) that
// test/bed/global-setup.ts brings up once for the whole run.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["action/**/*.test.ts", "dispatcher/**/*.test.ts", "test/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "bed",
          include: ["test/bed/**/*.test.ts", "test/integration/**/*.test.ts", "test/action/**/*.test.ts", "test/page/**/*.test.ts", "test/deploy/**/*.test.ts", "test/security/**/*.test.ts", "test/faults/**/*.test.ts"],
          globalSetup: ["test/bed/global-setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 1_200_000,
          // One bed, shared machine: files run one after another so builds do
          // not starve each other of the two cores.
          fileParallelism: false,
        },
      },
    ],
  },
});
