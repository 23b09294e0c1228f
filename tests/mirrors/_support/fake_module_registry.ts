/**
 * A tiny fake module registry (modules.v1 under /v1/modules/) plus archive hosting, on
 * 127.0.0.1:0, for module mirror tests.
 *
 * @module
 */

/** One module version's download answer. */
export interface FakeDownload {
  /** "header" → 204 + X-Terraform-Get; "json" → 200 + {"location"}. */
  form: "header" | "json";
  /** The source string returned. */
  location: string;
}

/** A running fake registry. */
export interface FakeModuleRegistry extends AsyncDisposable {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  /** modules.v1 base. */
  modulesV1: URL;
  /** `ns/name/system` → version → download answer. */
  modules: Map<string, Map<string, FakeDownload>>;
  /** Static files: path → bytes. */
  files: Map<string, Uint8Array<ArrayBuffer>>;
  /** Requests seen (method + path). */
  requests: string[];
  /** Stops the server. */
  stop(): Promise<void>;
}

/** Starts a fake registry. */
export function startFakeModuleRegistry(): FakeModuleRegistry {
  const modules = new Map<string, Map<string, FakeDownload>>();
  const files = new Map<string, Uint8Array<ArrayBuffer>>();
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    requests.push(`${req.method} ${url.pathname}`);
    const file = files.get(url.pathname);
    if (file !== undefined) return new Response(req.method === "HEAD" ? null : file);
    const m = /^\/v1\/modules\/([^/]+\/[^/]+\/[^/]+)\/(?:versions|([^/]+)\/download)$/.exec(
      url.pathname,
    );
    const mod = m === null ? undefined : modules.get(m[1] ?? "");
    if (m === null || mod === undefined) {
      return Response.json({ errors: ["Not Found"] }, { status: 404 });
    }
    if (m[2] === undefined) {
      return Response.json({
        modules: [{ versions: [...mod.keys()].map((version) => ({ version })) }],
      });
    }
    const d = mod.get(m[2]);
    if (d === undefined) return Response.json({ errors: ["Not Found"] }, { status: 404 });
    if (d.form === "header") {
      return new Response(null, { status: 204, headers: { "X-Terraform-Get": d.location } });
    }
    return Response.json({ location: d.location });
  });
  const url = `http://127.0.0.1:${server.addr.port}/`;
  const stop = () => server.shutdown();
  return {
    url,
    modulesV1: new URL("v1/modules/", url),
    modules,
    files,
    requests,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
