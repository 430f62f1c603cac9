import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";

/** Packs {path: content} into a tar.gz, the form dockhand uploads contexts in. */
export async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on("end", resolve);
    p.on("error", reject);
  });
  for (const [name, content] of Object.entries(files)) {
    p.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  }
  p.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

export interface ContextServer {
  url(name: string): string;
  close(): Promise<void>;
}

/**
 * Serves build contexts over loopback HTTP, as the dispatcher does, so the
 * daemon (docker build URL) or BuildKit fetches them itself.
 */
export async function serveContexts(contexts: Record<string, Buffer>): Promise<ContextServer> {
  const server: Server = createServer((req, res) => {
    const body = contexts[(req.url ?? "").slice(1)];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/gzip", "content-length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
