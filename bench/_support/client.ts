/**
 * HTTP clients for `bench/proxy_bench.ts`: `curl` in its own process when it is on `PATH`
 * (closest to terraform/tofu, and it keeps client work out of the measured process), else
 * Deno's `fetch` reading into a sink.
 *
 * @module
 */

/** One completed transfer. */
export interface Transfer {
  /** HTTP status. */
  status: number;
  /** Body bytes received. */
  bytes: number;
  /** Seconds from the start of the request to the last body byte. */
  seconds: number;
  /** New connections opened for this transfer (curl only; `-1` when unknown). */
  connects: number;
}

/** A benchmark client. */
export interface BenchClient extends AsyncDisposable {
  /** `curl` or `fetch`. */
  readonly name: string;
  /** Downloads `url` once on a fresh connection, discarding the body. */
  download(url: string): Promise<Transfer>;
  /** Requests `url` `count` times, one after another, over one reused connection. */
  sequential(url: string, count: number): Promise<Transfer[]>;
  /** Releases the client's resources. */
  close(): Promise<void>;
}

/** Options for {@linkcode createBenchClient}. */
export interface BenchClientOptions {
  /** Path of a PEM file trusted for HTTPS (the cache's certificate). */
  caFile: string;
  /** The same certificate as PEM text (for `fetch`). */
  caPem: string;
  /** Scratch directory for curl config files. */
  workDir: string;
  /** Force the `fetch` client even when curl is present. */
  forceFetch?: boolean;
}

const WRITE_OUT = "%{http_code} %{size_download} %{time_total} %{num_connects}\\n";

/**
 * Creates the best available client: curl when present, else fetch.
 *
 * @param options Trust anchor and scratch directory.
 * @returns The client; close it when done.
 * @example
 * ```ts
 * await using client = await createBenchClient({ caFile, caPem, workDir });
 * const { bytes, seconds } = await client.download("http://127.0.0.1:8080/big.bin");
 * ```
 */
export async function createBenchClient(options: BenchClientOptions): Promise<BenchClient> {
  if (!options.forceFetch && await _hasCurl()) return _curlClient(options);
  return _fetchClient(options);
}

async function _hasCurl(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("curl", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function _curlClient(options: BenchClientOptions): BenchClient {
  const common = ["-sS", "--noproxy", "*", "--cacert", options.caFile, "-w", WRITE_OUT];
  const run = async (args: string[]): Promise<Transfer[]> => {
    const { success, stdout, stderr } = await new Deno.Command("curl", {
      args: [...common, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!success) {
      throw new Error(`Cannot run curl ${args.at(-1)}: ${new TextDecoder().decode(stderr).trim()}`);
    }
    return new TextDecoder().decode(stdout).trim().split("\n").map(_parseWriteOut);
  };
  const close = () => Promise.resolve();
  return {
    name: "curl",
    async download(url) {
      const [transfer] = await run(["-o", "/dev/null", url]);
      if (transfer === undefined) throw new Error(`curl printed no transfer for "${url}"`);
      return transfer;
    },
    async sequential(url, count) {
      const config = `${options.workDir}/curl-${crypto.randomUUID()}.conf`;
      const entry = `url = "${url}"\noutput = "/dev/null"\n`;
      await Deno.writeTextFile(config, entry.repeat(count));
      try {
        return await run(["-K", config]);
      } finally {
        await Deno.remove(config);
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function _parseWriteOut(line: string): Transfer {
  const [status, bytes, seconds, connects] = line.trim().split(" ").map(Number);
  if (
    status === undefined || bytes === undefined || seconds === undefined ||
    connects === undefined || [status, bytes, seconds, connects].some(Number.isNaN)
  ) {
    throw new Error(`Cannot parse curl's write-out line "${line}"`);
  }
  return { status, bytes, seconds, connects };
}

function _fetchClient(options: BenchClientOptions): BenchClient {
  const fetchOnce = async (client: Deno.HttpClient, url: string): Promise<Transfer> => {
    const start = performance.now();
    const response = await fetch(url, { client });
    let bytes = 0;
    if (response.body !== null) {
      for await (const chunk of response.body) bytes += chunk.byteLength;
    }
    return {
      status: response.status,
      bytes,
      seconds: (performance.now() - start) / 1000,
      connects: -1,
    };
  };
  const newClient = () =>
    Deno.createHttpClient({ caCerts: [options.caPem], http2: false, poolMaxIdlePerHost: 1 });
  const close = () => Promise.resolve();
  return {
    name: "fetch",
    async download(url) {
      using client = newClient();
      return await fetchOnce(client, url);
    },
    async sequential(url, count) {
      using client = newClient();
      const out: Transfer[] = [];
      for (let i = 0; i < count; i++) out.push(await fetchOnce(client, url));
      return out;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
