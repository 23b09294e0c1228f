/**
 * Private tokenizer shared by the version and constraint parsers. It reproduces the
 * go-versions scanner: `op sep nums [-pre] [+meta]`, stopping at the first character that
 * does not fit and handing back the rest.
 *
 * @module
 */

/** The tokens of one constraint (or exact version) at the start of a string. */
export interface RawConstraint {
  /** Run of operator characters (anything but digits, spaces, letters, `.` and `*`). */
  op: string;
  /** Run of spaces and `v` between the operator and the numbers. */
  sep: string;
  /** The first three numbered portions as written (`""` when absent). */
  nums: [string, string, string];
  /** How many numbered portions were written (may exceed 3). */
  numCt: number;
  /** Prerelease without the leading `-` (`""` when absent or empty). */
  pre: string;
  /** Metadata without the leading `+` (`""` when absent or empty). */
  meta: string;
}

const _isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";
const _isAlpha = (c: string | undefined): boolean =>
  c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z"));
const _isSpace = (c: string | undefined): boolean =>
  c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f" || c === "\r";
const _isOpChar = (c: string | undefined): boolean =>
  c !== undefined && !_isDigit(c) && !_isSpace(c) && !_isAlpha(c) && c !== "." && c !== "*";
const _isNumStart = (c: string | undefined): boolean =>
  _isDigit(c) || c === "*" || c === "x" || c === "X";
const _isExtraChar = (c: string | undefined): boolean =>
  _isDigit(c) || _isAlpha(c) || c === "." || c === "-";

/**
 * Scan one constraint from the start of `data`.
 *
 * @param data Input text.
 * @returns The tokens and the unconsumed rest (starting at the first unfit character).
 */
export function _scanConstraint(data: string): { raw: RawConstraint; rest: string } {
  const raw: RawConstraint = { op: "", sep: "", nums: ["", "", ""], numCt: 0, pre: "", meta: "" };
  const n = data.length;
  let i = 0;
  while (i < n && _isOpChar(data[i])) i++;
  raw.op = data.slice(0, i);
  let start = i;
  while (i < n && (_isSpace(data[i]) || data[i] === "v")) i++;
  raw.sep = data.slice(start, i);

  const done = (at: number) => ({ raw, rest: data.slice(at) });

  // nums = num ('.' num)*
  for (;;) {
    if (!_isNumStart(data[i])) return done(i);
    start = i;
    if (_isDigit(data[i])) {
      while (_isDigit(data[i])) i++;
    } else {
      i++;
    }
    if (raw.numCt < 3) raw.nums[raw.numCt] = data.slice(start, i);
    raw.numCt++;
    if (data[i] !== ".") break;
    i++; // the dot; a missing number after it stops the scan just past the dot
  }

  const extra = (): string | undefined => {
    // data[i] is "-" or "+"; consume it and a non-empty run of extra characters.
    const from = i + 1;
    let j = from;
    while (_isExtraChar(data[j])) j++;
    if (j === from) {
      i = from;
      return undefined;
    }
    i = j;
    return data.slice(from, j);
  };

  if (data[i] === "-") {
    const pre = extra();
    if (pre === undefined) return done(i);
    raw.pre = pre;
  }
  if (data[i] === "+") {
    const meta = extra();
    if (meta === undefined) return done(i);
    raw.meta = meta;
  }
  return done(i);
}

/** Names of the numbered portions, for messages. */
export const _NUM_NAMES = ["major", "minor", "patch"] as const;

/**
 * @param s A numbered portion as written.
 * @returns Whether it is a wildcard (`*`, `x`, `X`).
 */
export function _isWildcard(s: string): boolean {
  return s === "*" || s === "x" || s === "X";
}
