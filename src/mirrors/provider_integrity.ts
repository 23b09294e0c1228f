/**
 * The provider mirror's signature gate: SHA256SUMS and its detached signature are committed only
 * after the pair verifies against the registry's signing keys, and, for
 * `registry.terraform.io/hashicorp/*`, against HashiCorp's embedded release key as well.
 *
 * @module
 */

import { HttpError } from "../proxy/errors.ts";
import { SignatureError } from "../registry/errors.ts";
import { HASHICORP_KEY_ID } from "../registry/hashicorp_key.ts";
import {
  type SignatureAuthentication,
  verifyChecksumsSignature as verifySignature,
} from "../registry/signature.ts";
import type { ProviderCoords } from "./provider_paths.ts";
import type { RegistryGpgKey } from "./provider_upstream.ts";

/** Host of HashiCorp's public registry, whose `hashicorp/*` providers must be officially signed. */
export const OFFICIAL_REGISTRY_HOST = "registry.terraform.io";
/** Namespace of HashiCorp's official providers. */
export const OFFICIAL_NAMESPACE = "hashicorp";

/** Input of {@linkcode verifyChecksumsSignature}. */
export interface ChecksumsSignatureInput {
  /** The provider the files belong to. */
  provider: ProviderCoords;
  /** Its version. */
  version: string;
  /** Raw SHA256SUMS bytes. */
  sums: Uint8Array;
  /** Raw detached signature bytes. */
  signature: Uint8Array;
  /** Keys the registry offered in the download document. */
  keys: readonly RegistryGpgKey[];
  /** Where SHA256SUMS came from, for messages. */
  sumsUrl: string;
}

/**
 * Whether a provider must carry HashiCorp's own signature (`registry.terraform.io/hashicorp/*`).
 *
 * @param p Provider coordinates.
 * @returns `true` for official providers.
 */
export function requiresOfficialSignature(p: ProviderCoords): boolean {
  return p.host === OFFICIAL_REGISTRY_HOST && p.namespace === OFFICIAL_NAMESPACE;
}

/**
 * Verifies a SHA256SUMS document against its signature.
 *
 * @param input Document, signature, offered keys and the provider.
 * @returns The authentication result.
 * @throws {HttpError} 502 whose message says the signature is invalid and names the key id.
 */
export async function verifyChecksumsSignature(
  input: ChecksumsSignatureInput,
): Promise<SignatureAuthentication> {
  const subject =
    `SHA256SUMS of ${input.provider.host}/${input.provider.namespace}/${input.provider.type} ${input.version}`;
  let auth: SignatureAuthentication;
  try {
    auth = await verifySignature({
      document: input.sums,
      signature: input.signature,
      keys: input.keys.map((k) => ({
        asciiArmor: k.ascii_armor,
        ...(k.key_id === undefined ? {} : { keyId: k.key_id }),
        ...(k.trust_signature === undefined ? {} : { trustSignature: k.trust_signature }),
      })),
      subject,
    });
  } catch (error) {
    if (error instanceof SignatureError) {
      const keyId = error.keyId ?? (input.keys.map((k) => k.key_id).filter(Boolean).join(", ") ||
        "unknown");
      throw new HttpError(
        502,
        `Invalid signature on ${subject} (${input.sumsUrl}), key id ${keyId}: ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
  if (requiresOfficialSignature(input.provider) && auth.kind !== "official") {
    throw new HttpError(
      502,
      `Invalid signature on ${subject} (${input.sumsUrl}): signed by key id ${auth.keyId}, ` +
        `but hashicorp/* providers of ${OFFICIAL_REGISTRY_HOST} must be signed by HashiCorp's key ${HASHICORP_KEY_ID}`,
    );
  }
  return auth;
}
