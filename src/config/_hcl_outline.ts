/**
 * A tolerant outline scanner for HCL native syntax that records where blocks and attributes
 * start (1-based lines). The real parser (`@cdktf/hcl2json`) returns no positions, so this
 * scanner supplies them. It runs only on text the real parser already accepted, and any
 * surprise merely leaves a position unknown.
 *
 * @module
 */

/** One block (or the file body, with `type === ""`) and the lines of what it contains. */
export interface OutlineBlock {
  /** Block type, e.g. `resource`; `""` for the file body. */
  readonly type: string;
  /** Block labels, e.g. `["aws_instance", "web"]`. */
  readonly labels: readonly string[];
  /** 1-based line of the block header. */
  readonly line: number;
  /** Attribute name → 1-based line (first occurrence). */
  readonly attrs: Map<string, number>;
  /** Attribute name → 1-based lines of every occurrence, in order. */
  readonly attrLines: Map<string, number[]>;
  /** Nested blocks, in order. */
  readonly blocks: OutlineBlock[];
}

type _TokKind = "ident" | "string" | "lbrace" | "rbrace" | "open" | "close" | "eq" | "nl" | "other";

interface _Tok {
  readonly kind: _TokKind;
  readonly text: string;
  readonly line: number;
}

const _IDENT_START = /[A-Za-z_]/;
const _IDENT_CHAR = /[A-Za-z0-9_-]/;
const _HEREDOC = /^<<-?([A-Za-z_][A-Za-z0-9_-]*)\r?\n/;

class _Scanner {
  readonly toks: _Tok[] = [];
  #i = 0;
  #line = 1;
  readonly #src: string;

  constructor(src: string) {
    this.#src = src;
  }

  #countNewlines(from: number, to: number): void {
    for (let k = from; k < to; k++) if (this.#src[k] === "\n") this.#line++;
  }

  /** Skip a quoted string starting at the opening quote; returns its literal text. */
  #quoted(): string {
    const src = this.#src;
    let out = "";
    this.#i++; // opening quote
    while (this.#i < src.length) {
      const c = src[this.#i] as string;
      if (c === '"') {
        this.#i++;
        return out;
      }
      if (c === "\n") return out; // unterminated; the real parser rejects this
      if (c === "\\") {
        const next = src[this.#i + 1] ?? "";
        out += next === "n" ? "\n" : next === "t" ? "\t" : next;
        this.#i += 2;
        continue;
      }
      if ((c === "$" || c === "%") && src[this.#i + 1] === c && src[this.#i + 2] === "{") {
        out += `${c}{`;
        this.#i += 3;
        continue;
      }
      if ((c === "$" || c === "%") && src[this.#i + 1] === "{") {
        const start = this.#i;
        this.#i += 2;
        this.#templateExpr();
        out += src.slice(start, this.#i);
        continue;
      }
      out += c;
      this.#i++;
    }
    return out;
  }

  /** Skip a template interpolation body up to and including its closing brace. */
  #templateExpr(): void {
    const src = this.#src;
    let depth = 1;
    while (this.#i < src.length) {
      const c = src[this.#i] as string;
      if (c === '"') {
        this.#quoted();
        continue;
      }
      if (c === "\n") this.#line++;
      if (c === "{") depth++;
      if (c === "}") {
        depth--;
        if (depth === 0) {
          this.#i++;
          return;
        }
      }
      this.#i++;
    }
  }

  #push(kind: _TokKind, text: string, line = this.#line): void {
    this.toks.push({ kind, text, line });
  }

  scan(): _Tok[] {
    const src = this.#src;
    while (this.#i < src.length) {
      const c = src[this.#i] as string;
      const next = src[this.#i + 1];
      if (c === "\n") {
        this.#push("nl", c);
        this.#line++;
        this.#i++;
      } else if (c === " " || c === "\t" || c === "\r") {
        this.#i++;
      } else if (c === "#" || (c === "/" && next === "/")) {
        while (this.#i < src.length && src[this.#i] !== "\n") this.#i++;
      } else if (c === "/" && next === "*") {
        const end = src.indexOf("*/", this.#i + 2);
        const stop = end < 0 ? src.length : end + 2;
        this.#countNewlines(this.#i, stop);
        this.#i = stop;
      } else if (c === '"') {
        const line = this.#line;
        const text = this.#quoted();
        this.#push("string", text, line);
      } else if (c === "<" && next === "<" && _HEREDOC.test(src.slice(this.#i, this.#i + 300))) {
        this.#heredoc();
      } else if (_IDENT_START.test(c)) {
        const start = this.#i;
        while (this.#i < src.length && _IDENT_CHAR.test(src[this.#i] as string)) this.#i++;
        this.#push("ident", src.slice(start, this.#i));
      } else if (c === "{") {
        this.#push("lbrace", c);
        this.#i++;
      } else if (c === "}") {
        this.#push("rbrace", c);
        this.#i++;
      } else if (c === "(" || c === "[") {
        this.#push("open", c);
        this.#i++;
      } else if (c === ")" || c === "]") {
        this.#push("close", c);
        this.#i++;
      } else if (c === "=" && next !== "=" && next !== ">") {
        this.#push("eq", c);
        this.#i++;
      } else if ((c === "=" || c === "!" || c === "<" || c === ">") && next === "=") {
        this.#push("other", c + next);
        this.#i += 2;
      } else {
        this.#push("other", c);
        this.#i++;
      }
    }
    return this.toks;
  }

  #heredoc(): void {
    const src = this.#src;
    const m = _HEREDOC.exec(src.slice(this.#i, this.#i + 300));
    if (m === null) return;
    const marker = m[1] as string;
    const line = this.#line;
    this.#i += m[0].length;
    this.#line++;
    // Consume whole lines until one whose trimmed text is the marker; leave the newline
    // after the marker so the enclosing attribute still ends there.
    while (this.#i < src.length) {
      const eol = src.indexOf("\n", this.#i);
      const end = eol < 0 ? src.length : eol;
      const text = src.slice(this.#i, end).trim();
      this.#i = end;
      if (text === marker) break;
      if (eol < 0) break;
      this.#i++;
      this.#line++;
    }
    this.#push("other", "<<heredoc", line);
  }
}

function _newBlock(type: string, labels: string[], line: number): OutlineBlock {
  return { type, labels, line, attrs: new Map(), attrLines: new Map(), blocks: [] };
}

/**
 * Skip an attribute's expression: everything up to a newline (or the enclosing closing
 * brace) at bracket depth zero. Returns the index of the token that ended it.
 */
function _skipExpr(toks: readonly _Tok[], pos: number): number {
  let depth = 0;
  while (pos < toks.length) {
    const t = toks[pos] as _Tok;
    if (t.kind === "open" || t.kind === "lbrace") depth++;
    else if (t.kind === "close" || t.kind === "rbrace") {
      if (depth === 0) return pos;
      depth--;
    } else if (t.kind === "nl" && depth === 0) return pos;
    pos++;
  }
  return pos;
}

/** Parse a body into `into`; returns the index after the closing brace (or the end). */
function _body(toks: readonly _Tok[], pos: number, into: OutlineBlock): number {
  while (pos < toks.length) {
    const t = toks[pos] as _Tok;
    if (t.kind === "nl") {
      pos++;
      continue;
    }
    if (t.kind === "rbrace") return pos + 1;
    if (t.kind !== "ident") {
      pos = _skipExpr(toks, pos + 1);
      continue;
    }
    const after = toks[pos + 1];
    if (after?.kind === "eq") {
      if (!into.attrs.has(t.text)) into.attrs.set(t.text, t.line);
      const lines = into.attrLines.get(t.text);
      if (lines === undefined) into.attrLines.set(t.text, [t.line]);
      else lines.push(t.line);
      pos = _skipExpr(toks, pos + 2);
      continue;
    }
    let j = pos + 1;
    const labels: string[] = [];
    while (j < toks.length) {
      const l = toks[j] as _Tok;
      if (l.kind !== "string" && l.kind !== "ident") break;
      labels.push(l.text);
      j++;
    }
    if (toks[j]?.kind === "lbrace") {
      const block = _newBlock(t.text, labels, t.line);
      into.blocks.push(block);
      pos = _body(toks, j + 1, block);
      continue;
    }
    pos = _skipExpr(toks, pos + 1);
  }
  return pos;
}

/**
 * Outline an HCL native-syntax file: the blocks and attributes it holds, with lines.
 *
 * @param src The file text (already accepted by the real parser).
 * @returns The file body as a block with `type === ""`.
 */
export function outlineHcl(src: string): OutlineBlock {
  const toks = new _Scanner(src).scan();
  const root = _newBlock("", [], 1);
  let pos = 0;
  while (pos < toks.length) {
    pos = _body(toks, pos, root); // a stray "}" returns early; keep going after it
  }
  return root;
}

/**
 * Find nested blocks along a path of block types, each step optionally matching labels.
 *
 * @param root Where to start.
 * @param path Block types (with optional labels) from the outside in.
 * @returns Every block matching the whole path, in file order.
 */
export function findBlocks(
  root: OutlineBlock,
  path: readonly { type: string; labels?: readonly string[] }[],
): OutlineBlock[] {
  let current: OutlineBlock[] = [root];
  for (const step of path) {
    const nextLevel: OutlineBlock[] = [];
    for (const b of current) {
      for (const child of b.blocks) {
        if (child.type !== step.type) continue;
        if (
          step.labels !== undefined &&
          (child.labels.length !== step.labels.length ||
            child.labels.some((l, k) => l !== step.labels?.[k]))
        ) continue;
        nextLevel.push(child);
      }
    }
    current = nextLevel;
  }
  return current;
}
