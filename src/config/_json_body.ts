/**
 * Narrowing helpers for configuration in JSON form: the output of `@cdktf/hcl2json` and
 * Terraform's own `.tf.json` syntax share one shape, except that `.tf.json` lets a block
 * be a single object or an array of objects at every level, and lets `"//"` keys hold
 * comments. These helpers accept both.
 *
 * @module
 */

/** A JSON object. */
export type JsonObject = Record<string, unknown>;

/**
 * @param v Any value.
 * @returns Whether `v` is a plain JSON object (not an array, not null).
 */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The block bodies a value stands for: an object is one body, an array is one body per
 * object element; anything else is none.
 *
 * @param v A block value.
 * @returns The bodies.
 */
export function blockBodies(v: unknown): JsonObject[] {
  if (Array.isArray(v)) return v.filter(isJsonObject);
  return isJsonObject(v) ? [v] : [];
}

/**
 * The `(key, value)` pairs of a labelled level: an object's entries, or the entries of every
 * object in an array, skipping `"//"` comment keys.
 *
 * @param v A label level (e.g. the value of `"resource"`).
 * @returns The entries in order.
 */
export function labelEntries(v: unknown): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const body of blockBodies(v)) {
    for (const [k, val] of Object.entries(body)) {
      if (k !== "//") out.push([k, val]);
    }
  }
  return out;
}

const _TEMPLATE_WRAP = /^\$\{([^{}]*)\}$/;

/**
 * The traversal text of a reference expression: `"${aws.west}"` (hcl2json) and
 * `"aws.west"` (`.tf.json`) both give `aws.west`.
 *
 * @param v The attribute value.
 * @returns The trimmed reference text, or `undefined` when `v` is not a string.
 */
export function referenceText(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const m = _TEMPLATE_WRAP.exec(v.trim());
  return (m === null ? v : m[1] as string).trim();
}

/**
 * Whether a string value holds a template interpolation or directive, i.e. it is not a
 * literal in the source.
 *
 * @param v A string value.
 * @returns `true` when it contains `${` or `%{` that is not escaped.
 */
export function hasTemplate(v: string): boolean {
  return /(^|[^$])\$\{|(^|[^%])%\{/.test(v);
}
