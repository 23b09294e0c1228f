/**
 * A small parser for the subset of HCL native syntax that lock files use: comments,
 * blocks with labels, `name = value` attributes, quoted strings with HCL escapes,
 * numbers, `true`/`false`/`null`, and tuples. It records exact source ranges (line,
 * column in characters, UTF-8 byte offset; ends exclusive) and recovers after syntax
 * errors at the next line.
 *
 * @module
 */

/** A position in the source. Lines and columns start at 1; `byte` is a UTF-8 offset. */
export interface Pos {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column, counted in characters. */
  readonly column: number;
  /** 0-based UTF-8 byte offset. */
  readonly byte: number;
}

/** A source range; `end` is exclusive. */
export interface Range {
  /** First character. */
  readonly start: Pos;
  /** Just past the last character. */
  readonly end: Pos;
}

/** A literal or structural expression. */
export type Expr =
  | { readonly kind: "string"; readonly value: string; readonly range: Range }
  | { readonly kind: "number"; readonly raw: string; readonly range: Range }
  | { readonly kind: "bool"; readonly value: boolean; readonly range: Range }
  | { readonly kind: "null"; readonly range: Range }
  | { readonly kind: "tuple"; readonly items: readonly Expr[]; readonly range: Range }
  | { readonly kind: "variable"; readonly name: string; readonly range: Range }
  | { readonly kind: "invalid"; readonly range: Range };

/** `name = expr`. */
export interface Attribute {
  /** Argument name. */
  readonly name: string;
  /** Range of the name. */
  readonly nameRange: Range;
  /** The value. */
  readonly expr: Expr;
}

/** `type "label" … { body }`. */
export interface Block {
  /** Block type keyword. */
  readonly type: string;
  /** Range of the type keyword. */
  readonly typeRange: Range;
  /** Label values. */
  readonly labels: readonly string[];
  /** Ranges of the labels (including quotes). */
  readonly labelRanges: readonly Range[];
  /** Range of the opening brace. */
  readonly openBraceRange: Range;
  /** Block contents. */
  readonly body: Body;
}

/** A body: attributes and blocks in source order. */
export interface Body {
  /** Items in source order. */
  readonly items: ReadonlyArray<
    { readonly kind: "attribute"; readonly attribute: Attribute } | {
      readonly kind: "block";
      readonly block: Block;
    }
  >;
}

/** A syntax error. */
export interface SyntaxError {
  /** Short summary (HCL wording). */
  readonly summary: string;
  /** Longer explanation. */
  readonly detail: string;
  /** Where. */
  readonly range: Range;
}

type TokKind =
  | "newline"
  | "ident"
  | "string"
  | "number"
  | "{"
  | "}"
  | "["
  | "]"
  | ","
  | "="
  | "other"
  | "eof";

interface Token {
  kind: TokKind;
  text: string;
  /** For strings: the decoded value, or `undefined` when it was invalid. */
  value?: string | undefined;
  range: Range;
}

const _IDENT_START = /[\p{L}\p{Nl}_]/u;
const _IDENT_CONT = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_-]/u;

class _Lexer {
  readonly src: string;
  i = 0;
  line = 1;
  column = 1;
  byte = 0;
  readonly errors: SyntaxError[];

  constructor(src: string, errors: SyntaxError[]) {
    this.src = src;
    this.errors = errors;
  }

  pos(): Pos {
    return { line: this.line, column: this.column, byte: this.byte };
  }

  peekChar(k = 0): string | undefined {
    return this.src[this.i + k];
  }

  /** Advance one code point. */
  advance(): string {
    const cp = this.src.codePointAt(this.i) as number;
    const ch = String.fromCodePoint(cp);
    this.i += ch.length;
    this.byte += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (ch === "\n") {
      this.line++;
      this.column = 1;
    } else {
      this.column++;
    }
    return ch;
  }

  error(summary: string, detail: string, range: Range): void {
    this.errors.push({ summary, detail, range });
  }

  next(): Token {
    for (;;) {
      const c = this.peekChar();
      if (c === " " || c === "\t") {
        this.advance();
        continue;
      }
      if (c === "\r" && this.peekChar(1) === "\n") {
        this.advance();
        continue;
      }
      if (c === "/" && this.peekChar(1) === "*") {
        const start = this.pos();
        this.advance();
        this.advance();
        while (this.i < this.src.length && !(this.peekChar() === "*" && this.peekChar(1) === "/")) {
          this.advance();
        }
        if (this.i >= this.src.length) {
          this.error(
            "Unterminated comment",
            'There is no closing marker for this comment ("*/").',
            { start, end: this.pos() },
          );
        } else {
          this.advance();
          this.advance();
        }
        continue;
      }
      break;
    }
    const start = this.pos();
    const c = this.peekChar();
    const tok = (kind: TokKind, text: string, value?: string): Token => ({
      kind,
      text,
      value,
      range: { start, end: this.pos() },
    });
    if (c === undefined) return tok("eof", "");
    if (c === "#" || (c === "/" && this.peekChar(1) === "/")) {
      // A line comment ends with (and stands for) a newline.
      while (this.i < this.src.length && this.peekChar() !== "\n") this.advance();
      if (this.i < this.src.length) this.advance();
      return tok("newline", "\n");
    }
    if (c === "\n") {
      this.advance();
      return tok("newline", "\n");
    }
    if ("{}[],=".includes(c)) {
      this.advance();
      return tok(c as TokKind, c);
    }
    if (c === '"') return this.string(start);
    if (c >= "0" && c <= "9") {
      const from = this.i;
      while (/[0-9]/.test(this.peekChar() ?? "")) this.advance();
      if (this.peekChar() === "." && /[0-9]/.test(this.peekChar(1) ?? "")) {
        this.advance();
        while (/[0-9]/.test(this.peekChar() ?? "")) this.advance();
      }
      if (/[eE]/.test(this.peekChar() ?? "")) {
        const save = { i: this.i, column: this.column, byte: this.byte };
        this.advance();
        if (/[+-]/.test(this.peekChar() ?? "")) this.advance();
        if (/[0-9]/.test(this.peekChar() ?? "")) {
          while (/[0-9]/.test(this.peekChar() ?? "")) this.advance();
        } else {
          this.i = save.i;
          this.column = save.column;
          this.byte = save.byte;
        }
      }
      return tok("number", this.src.slice(from, this.i));
    }
    if (_IDENT_START.test(String.fromCodePoint(this.src.codePointAt(this.i) as number))) {
      const from = this.i;
      this.advance();
      while (
        this.i < this.src.length &&
        _IDENT_CONT.test(String.fromCodePoint(this.src.codePointAt(this.i) as number))
      ) {
        this.advance();
      }
      return tok("ident", this.src.slice(from, this.i));
    }
    const ch = this.advance();
    return tok("other", ch);
  }

  string(start: Pos): Token {
    this.advance(); // opening quote
    let value = "";
    let ok = true;
    const from = this.i - 1;
    for (;;) {
      const c = this.peekChar();
      if (c === undefined || c === "\n" || (c === "\r" && this.peekChar(1) === "\n")) {
        this.error(
          "Unterminated template string",
          "No closing marker was found for the string.",
          { start, end: this.pos() },
        );
        return {
          kind: "string",
          text: this.src.slice(from, this.i),
          value: undefined,
          range: { start, end: this.pos() },
        };
      }
      if (c === '"') {
        this.advance();
        break;
      }
      if (c === "\\") {
        const escStart = this.pos();
        this.advance();
        const e = this.peekChar();
        const simple: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };
        if (e !== undefined && e in simple) {
          this.advance();
          value += simple[e];
          continue;
        }
        if (e === "u" || e === "U") {
          const len = e === "u" ? 4 : 8;
          const hex = this.src.slice(this.i + 1, this.i + 1 + len);
          if (hex.length === len && /^[0-9A-Fa-f]+$/.test(hex)) {
            const cp = Number.parseInt(hex, 16);
            if (cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
              for (let k = 0; k <= len; k++) this.advance();
              value += String.fromCodePoint(cp);
              continue;
            }
          }
          this.advance();
          ok = false;
          this.error(
            "Invalid escape sequence",
            `The \\${e} escape sequence must be followed by ${len} hexadecimal digits naming a valid Unicode character.`,
            { start: escStart, end: this.pos() },
          );
          continue;
        }
        if (e !== undefined && e !== "\n") this.advance();
        ok = false;
        this.error(
          "Invalid escape sequence",
          `The symbol "${e ?? ""}" is not a valid escape sequence selector.`,
          { start: escStart, end: this.pos() },
        );
        continue;
      }
      if ((c === "$" || c === "%") && this.peekChar(1) === c && this.peekChar(2) === "{") {
        this.advance();
        this.advance();
        this.advance();
        value += `${c}{`;
        continue;
      }
      if ((c === "$" || c === "%") && this.peekChar(1) === "{") {
        const seqStart = this.pos();
        this.advance();
        this.advance();
        ok = false;
        this.error(
          "Template sequences not allowed",
          `A lock file may contain only literal strings, but "${c}{" begins a template ${
            c === "$" ? "interpolation" : "directive"
          }. Write "${c}${c}{" for a literal "${c}{".`,
          { start: seqStart, end: this.pos() },
        );
        continue;
      }
      value += this.advance();
    }
    return {
      kind: "string",
      text: this.src.slice(from, this.i),
      value: ok ? value : undefined,
      range: { start, end: this.pos() },
    };
  }
}

class _Parser {
  readonly lexer: _Lexer;
  tok: Token;
  readonly errors: SyntaxError[];

  constructor(src: string) {
    this.errors = [];
    this.lexer = new _Lexer(src, this.errors);
    this.tok = this.lexer.next();
  }

  /** Kind of the current token (a method, so narrowing does not survive `bump()`). */
  kind(): TokKind {
    return this.tok.kind;
  }

  bump(): Token {
    const t = this.tok;
    this.tok = this.lexer.next();
    return t;
  }

  error(summary: string, detail: string, range: Range): void {
    this.errors.push({ summary, detail, range });
  }

  /** Skip to just after the next newline outside brackets (or to a closing brace/EOF). */
  recover(): void {
    let depth = 0;
    for (;;) {
      const k = this.kind();
      if (k === "eof") return;
      if (depth === 0 && k === "newline") {
        this.bump();
        return;
      }
      if (depth === 0 && k === "}") return;
      if (k === "{" || k === "[") depth++;
      if ((k === "}" || k === "]") && depth > 0) depth--;
      this.bump();
    }
  }

  skipNewlines(): void {
    while (this.kind() === "newline") this.bump();
  }

  body(inBlock: boolean): Body {
    const items: Array<
      { kind: "attribute"; attribute: Attribute } | { kind: "block"; block: Block }
    > = [];
    for (;;) {
      this.skipNewlines();
      if (this.kind() === "eof") return { items };
      if (this.kind() === "}") {
        if (inBlock) return { items };
        this.error(
          "Argument or block definition required",
          "An argument or block definition is required here.",
          this.tok.range,
        );
        this.bump();
        continue;
      }
      if (this.kind() !== "ident") {
        this.error(
          "Argument or block definition required",
          "An argument or block definition is required here.",
          this.tok.range,
        );
        this.recover();
        continue;
      }
      const item = this.item(false);
      if (item !== undefined) items.push(item);
    }
  }

  /** Parse one attribute or block starting at an identifier. */
  item(singleLine: boolean):
    | { kind: "attribute"; attribute: Attribute }
    | { kind: "block"; block: Block }
    | undefined {
    const nameTok = this.bump();
    if (this.kind() === "=") {
      this.bump();
      const expr = this.expr();
      const attribute: Attribute = { name: nameTok.text, nameRange: nameTok.range, expr };
      if (expr.kind === "invalid") {
        this.recover();
        return { kind: "attribute", attribute };
      }
      if (singleLine) return { kind: "attribute", attribute };
      if (this.kind() === "newline") {
        this.bump();
      } else if (this.kind() !== "eof" && this.kind() !== "}") {
        this.error(
          "Missing newline after argument",
          "An argument definition must end with a newline.",
          this.tok.range,
        );
        this.recover();
      }
      return { kind: "attribute", attribute };
    }
    const labels: string[] = [];
    const labelRanges: Range[] = [];
    while (this.kind() === "string" || this.kind() === "ident") {
      const t = this.bump();
      labels.push(t.kind === "string" ? (t.value ?? "") : t.text);
      labelRanges.push(t.range);
    }
    if (this.kind() !== "{") {
      this.error(
        "Invalid block definition",
        'Either a quoted string block label or an opening brace ("{") is expected here.',
        this.tok.range,
      );
      this.recover();
      return undefined;
    }
    const open = this.bump();
    let body: Body;
    if (this.kind() === "newline") {
      body = this.body(true);
    } else if (this.kind() === "}") {
      body = { items: [] };
    } else if (this.kind() === "ident") {
      const inner = this.item(true);
      body = { items: inner === undefined ? [] : [inner] };
    } else {
      this.error(
        "Invalid single-argument block definition",
        "A single-line block definition must end with a closing brace immediately after its single argument definition.",
        this.tok.range,
      );
      this.recover();
      body = this.body(true);
    }
    if (this.kind() !== "}") {
      this.error(
        "Unclosed configuration block",
        "There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.",
        open.range,
      );
    } else {
      this.bump();
      if (!singleLine && this.kind() !== "newline" && this.kind() !== "eof") {
        this.error(
          "Missing newline after block definition",
          "A block definition must end with a newline.",
          this.tok.range,
        );
        this.recover();
      }
    }
    return {
      kind: "block",
      block: {
        type: nameTok.text,
        typeRange: nameTok.range,
        labels,
        labelRanges,
        openBraceRange: open.range,
        body,
      },
    };
  }

  expr(): Expr {
    const t = this.tok;
    switch (t.kind) {
      case "string":
        this.bump();
        return t.value === undefined
          ? { kind: "invalid", range: t.range }
          : { kind: "string", value: t.value, range: t.range };
      case "number":
        this.bump();
        return { kind: "number", raw: t.text, range: t.range };
      case "ident": {
        this.bump();
        if (t.text === "null") return { kind: "null", range: t.range };
        if (t.text === "true" || t.text === "false") {
          return { kind: "bool", value: t.text === "true", range: t.range };
        }
        let end = t.range.end;
        let name = t.text;
        while (this.kind() === "other" && this.tok.text === ".") {
          this.bump();
          if (this.kind() !== "ident") break;
          name += `.${this.tok.text}`;
          end = this.tok.range.end;
          this.bump();
        }
        return { kind: "variable", name, range: { start: t.range.start, end } };
      }
      case "[":
        return this.tuple();
      default:
        this.error(
          "Invalid expression",
          "Expected the start of an expression, but found an invalid expression token.",
          t.range,
        );
        return { kind: "invalid", range: t.range };
    }
  }

  tuple(): Expr {
    const open = this.bump();
    const items: Expr[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.kind() === "]") {
        const close = this.bump();
        return { kind: "tuple", items, range: { start: open.range.start, end: close.range.end } };
      }
      if (this.kind() === "eof" || this.kind() === "}") {
        this.error(
          "Unterminated tuple constructor expression",
          "There is no corresponding closing bracket before the end of the file. This may be caused by incorrect bracket nesting elsewhere in this file.",
          open.range,
        );
        return { kind: "invalid", range: open.range };
      }
      const item = this.expr();
      if (item.kind === "invalid") {
        this.skipTo("]");
        return { kind: "invalid", range: { start: open.range.start, end: this.tok.range.end } };
      }
      items.push(item);
      this.skipNewlines();
      if (this.kind() === ",") {
        this.bump();
        continue;
      }
      if (this.kind() === "]") continue;
      this.error(
        "Missing item separator",
        "Expected a comma to mark the beginning of the next item.",
        this.tok.range,
      );
      this.skipTo("]");
      return { kind: "invalid", range: { start: open.range.start, end: this.tok.range.end } };
    }
  }

  /** Skip past the closing bracket of the current tuple, if any. */
  skipTo(close: "]"): void {
    let depth = 0;
    while (this.kind() !== "eof") {
      if (this.kind() === "[") depth++;
      if (this.kind() === close) {
        if (depth === 0) {
          this.bump();
          return;
        }
        depth--;
      }
      if (this.kind() === "}" && depth === 0) return;
      this.bump();
    }
  }
}

/**
 * Parse HCL source (the lock-file subset).
 *
 * @param src Source text.
 * @returns The top-level body and any syntax errors.
 */
export function _parseHcl(src: string): { body: Body; errors: SyntaxError[] } {
  const p = new _Parser(src);
  const body = p.body(false);
  return { body, errors: p.errors };
}
