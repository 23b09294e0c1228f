/**
 * Paths of the provider-cache fixtures and helpers to lay out test cache directories.
 *
 * @module
 */

import { dirname, join } from "node:path";

/** `tests/testdata/providercache`. */
export const TESTDATA = join(
  import.meta.dirname!,
  "..",
  "..",
  "testdata",
  "providercache",
);
/** Unpacked `null` 2.0.0 (85-byte `terraform-provider-null`). */
export const NULL_DIR = join(TESTDATA, "cachedir-null-2.0.0-darwin_amd64");
/** `h1:` of {@linkcode NULL_DIR} and of {@linkcode NULL_ZIP}. */
export const NULL_H1 = "h1:qjsREM4DqEWECD43FcPqddZ9oxCG+IaMTxvWPciS05g=";
/** A real zip holding the same file. */
export const NULL_ZIP = join(TESTDATA, "terraform-provider-null_2.1.0_linux_amd64.zip");
/** `zh:` of {@linkcode NULL_ZIP}. */
export const NULL_ZIP_ZH = "zh:299dd806df78cb0537e5c111019eaca6e6b7797e1b63cb37cc6a76f91c6c0782";
/** A `.zip` that is plain text. */
export const NOT_A_ZIP = join(
  TESTDATA,
  "placeholder-not-a-zip_terraform-provider-null_2.1.0_linux_amd64.zip",
);
/** `zh:` of {@linkcode NOT_A_ZIP}. */
export const NOT_A_ZIP_ZH = "zh:4fb39849f2e138eb16a18ba0c682635d781cb8c3b25901dd5a792ade9711f501";
/** Unpacked `beep` package. */
export const BEEP_DIR = join(TESTDATA, "beep-provider");
/** `h1:` of {@linkcode BEEP_DIR}. */
export const BEEP_H1 = "h1:2y06Ykj0FRneZfGCTxI9wRTori8iB7ZL5kQ6YyEnh84=";
/** `h1:` of an empty package. */
export const EMPTY_H1 = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

/**
 * Creates a file (and its parents).
 *
 * @param path The file.
 * @param content Its content.
 * @param mode Its mode.
 */
export async function put(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  if (typeof content === "string") await Deno.writeTextFile(path, content, { mode });
  else await Deno.writeFile(path, content, { mode });
}

/**
 * Builds the upstream `cachedir` layout (reference §1.3/§8.4) under `base`.
 *
 * @param base The directory to fill.
 */
export async function buildCacheDir(base: string): Promise<void> {
  const nullBin = await Deno.readFile(join(NULL_DIR, "terraform-provider-null"));
  const r = join(base, "registry.terraform.io");
  for (const plat of ["linux_amd64", "darwin_amd64"]) {
    await put(join(r, "hashicorp/null/2.0.0", plat, "terraform-provider-null"), nullBin, 0o755);
  }
  await put(join(r, "hashicorp/null/2.0.0/windows_amd64/terraform-provider-null.exe"), nullBin);
  await put(join(r, "hashicorp/null/2.0.0/linux_amd64.lock"), "");
  await put(join(r, "hashicorp/null/2.0.0/.tmp_linux_amd64_dead/partial"), "x");
  await Deno.copyFile(
    NULL_ZIP,
    join(r, "hashicorp/null/terraform-provider-null_2.1.0_linux_amd64.zip"),
  );
  await put(join(r, "hashicorp/null/invalid"), "junk");
  await put(join(r, "hashicorp/null/terraform-provider-null_invalid.zip"), "junk");
  await put(join(r, "hashicorp/null/terraform-provider-null_invalid_invalid_invalid.zip"), "junk");
  await put(join(r, "hashicorp/random/1.2.0/linux_amd64/terraform-provider-random"), "random");
  await put(
    join(r, "hashicorp/random-beta/1.2.0/linux_amd64/terraform-provider-random-beta"),
    "rb",
  );
  await put(join(r, "-/legacy/1.0.0/linux_amd64/terraform-provider-legacy"), "legacy");
  await put(join(r, "missing/executable/2.0.0/linux_amd64/executable"), "nope");
  await put(join(base, "example.com/foo/bar/not-a-version/linux_amd64/x"), "x");
  await put(join(base, "example.com/-/bar/1.0.0/linux_amd64/terraform-provider-bar"), "x");
  await put(join(base, ".locks/registry.terraform.io/hashicorp/null/2.0.0_linux_amd64.lock"), "");
  await put(
    join(
      base,
      "opentf.example.com/AwesomeCorp/happycloud/0.1.0-alpha.2/darwin_amd64/terraform-provider-happycloud",
    ),
    "hc",
  );
}

/**
 * A temporary directory removed on dispose.
 *
 * @returns The path and a disposer.
 */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "tfcache-pc-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Lists every path under `dir` (relative, sorted), for "nothing left behind" assertions.
 *
 * @param dir The directory.
 * @returns Relative paths.
 */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (abs: string, rel: string) => {
    for await (const e of Deno.readDir(abs)) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      out.push(r);
      if (e.isDirectory) await walk(join(abs, e.name), r);
    }
  };
  await walk(dir, "").catch(() => {});
  return out.sort();
}
