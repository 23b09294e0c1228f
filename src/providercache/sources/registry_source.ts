/**
 * An origin provider registry (`providers.v1`, reference-providercache §7.2), through engineer 4's
 * {@linkcode ProviderRegistryClient}. `packageMeta` fetches the download metadata, SHA256SUMS and
 * its signature, and checks — before anything is downloaded — that SHA256SUMS lists the package
 * with the registry's `shasum` and that its signature verifies against the registry's keys
 * (terraform's rules: official / partner / self-signed). The archive itself is checked against
 * `shasum` when it is installed.
 *
 * With a fetch that goes through the tfcache cache (and a discovery using it too), this is
 * "the tfcache cache" source.
 *
 * @module
 */

import type { FetchLike } from "../../registry/fetch_like.ts";
import { type Platform, platformString } from "../../registry/platform.ts";
import {
  hostnameForDisplay,
  type ProviderAddress,
  providerAddressString,
} from "../../registry/provider_address.ts";
import { PlatformNotAvailableError } from "../../registry/errors.ts";
import type { ProviderRegistryClient } from "../../registry/registry_client.ts";
import { parseSha256Sums } from "../../registry/sha256sums.ts";
import { verifyChecksumsSignature } from "../../registry/signature.ts";
import { type Version, versionString } from "../../registry/version.ts";
import { PackageNotAvailableError, SourceQueryError } from "../errors.ts";
import type { PackageMeta } from "../package_meta.ts";
import { getDocument } from "./_http.ts";
import { parseVersionList } from "./_versions.ts";
import type { AvailableVersions, ProviderSource, SourceCallOptions } from "./source.ts";

/** Options for {@linkcode RegistrySource}. */
export interface RegistrySourceOptions {
  /** The registry protocol client. */
  client: ProviderRegistryClient;
  /** Fetch for SHA256SUMS, its signature and the package download (default: global `fetch`). */
  fetch?: FetchLike;
  /** Product name in messages (default `terraform`). */
  productName?: string;
  /** Signature policy: the key that makes a package official (default HashiCorp's). */
  officialKey?: string;
  /** Signature policy: HashiCorp's partners key. */
  partnersKey?: string;
  /** Signature policy: reject keys that expired after signing. */
  rejectExpiredKeys?: boolean;
}

const _SUPPORTED_PROTOCOL_MAJORS = new Set([5, 6]);

/** Packages from origin registries. */
export class RegistrySource implements ProviderSource {
  readonly #client: ProviderRegistryClient;
  readonly #fetch: FetchLike;
  readonly #options: RegistrySourceOptions;

  /**
   * @param options Client, fetch, signature policy.
   */
  constructor(options: RegistrySourceOptions) {
    this.#client = options.client;
    this.#fetch = options.fetch ?? ((u, i) => fetch(u, i));
    this.#options = options;
  }

  /**
   * @param provider The provider.
   * @param options Abort signal.
   * @returns The registry's versions (invalid version strings skipped, as terraform) and warnings.
   * @throws {import("../../registry/errors.ts").ProviderNotFoundError} and the client's other errors.
   */
  async availableVersions(
    provider: ProviderAddress,
    options: SourceCallOptions = {},
  ): Promise<AvailableVersions> {
    const list = await this.#client.listVersions(
      provider,
      options.signal === undefined ? {} : { signal: options.signal },
    );
    const versions = parseVersionList(list.versions.map((v) => v.version));
    return { versions, warnings: [...list.warnings] };
  }

  /**
   * @param provider The provider.
   * @param version The version.
   * @param platform The platform.
   * @param options Abort signal.
   * @returns The package's URL and its signed-checksums authentication.
   * @throws {PackageNotAvailableError} when the registry has no package for the platform.
   * @throws {SourceQueryError} for an unsupported protocol or missing checksums.
   * @throws {import("../../registry/errors.ts").SignatureError} when the signature is invalid.
   */
  async packageMeta(
    provider: ProviderAddress,
    version: Version,
    platform: Platform,
    options: SourceCallOptions = {},
  ): Promise<PackageMeta> {
    const signalOpt = options.signal === undefined ? {} : { signal: options.signal };
    const display = providerAddressString(provider);
    let dl;
    try {
      dl = await this.#client.download(provider, versionString(version), platform, signalOpt);
    } catch (err) {
      if (err instanceof PlatformNotAvailableError) {
        throw new PackageNotAvailableError(
          `provider ${display} ${versionString(version)} is not available for ${
            platformString(platform)
          }`,
        );
      }
      throw err;
    }
    if (dl.protocols.length > 0) {
      const ok = dl.protocols.some((p) => _SUPPORTED_PROTOCOL_MAJORS.has(Number.parseInt(p, 10)));
      if (!ok) {
        throw new SourceQueryError(
          `provider ${display} ${versionString(version)} is not supported by this version of ${
            this.#options.productName ?? "terraform"
          } (it supports plugin protocols ${dl.protocols.join(", ")}; this tool supports 5 and 6)`,
        );
      }
    }
    if (dl.shasumsUrl === undefined) {
      throw new SourceQueryError(
        `registry ${hostnameForDisplay(provider.hostname)} gave no SHA256SUMS URL for ${display} ${
          versionString(version)
        }, so the package cannot be authenticated`,
      );
    }
    const subject = `${display} ${versionString(version)}`;
    const sums = await this.#small(dl.shasumsUrl, "authentication checksums", options.signal);
    const sig = dl.shasumsSignatureUrl === undefined
      ? undefined
      : await this.#small(dl.shasumsSignatureUrl, "cryptographic signature", options.signal);
    const parsed = parseSha256Sums(sums, `SHA256SUMS of ${subject}`);
    const listed = parsed.get(dl.filename);
    if (listed === undefined) {
      throw new SourceQueryError(`checksum list has no SHA-256 hash for "${dl.filename}"`);
    }
    if (listed !== dl.shasum) {
      throw new SourceQueryError(
        `checksum list has unexpected SHA-256 hash ${listed} (expected ${dl.shasum})`,
      );
    }
    const signature = await verifyChecksumsSignature({
      document: sums,
      signature: sig,
      keys: dl.signingKeys.gpgPublicKeys,
      subject: `SHA256SUMS of ${subject}`,
      ...(this.#options.officialKey === undefined
        ? {}
        : { officialKey: this.#options.officialKey }),
      ...(this.#options.partnersKey === undefined
        ? {}
        : { partnersKey: this.#options.partnersKey }),
      ...(this.#options.rejectExpiredKeys === undefined
        ? {}
        : { rejectExpiredKeys: this.#options.rejectExpiredKeys }),
    });
    return {
      provider,
      version,
      protocolVersions: dl.protocols,
      targetPlatform: platform,
      filename: dl.filename,
      location: { kind: "http", url: dl.downloadUrl, fetch: this.#fetch },
      authentication: {
        kind: "signed-checksums",
        archiveSha256: dl.shasum,
        signature,
        documentHashes: parsed.zhHashes(),
      },
    };
  }

  async #small(url: string, what: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const got = await getDocument(this.#fetch, url, { signal });
    if (got.status !== 200) {
      throw new SourceQueryError(
        `failed to retrieve ${what} for provider: ${got.status} returned from ${got.url.host}`,
        { status: got.status },
      );
    }
    return got.body;
  }

  /**
   * @param provider The provider.
   * @returns `registry <host>`.
   */
  forDisplay(provider: ProviderAddress): string {
    return `registry ${hostnameForDisplay(provider.hostname)}`;
  }
}
