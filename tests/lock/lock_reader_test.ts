import assert from "node:assert/strict";
import {
  type Diagnostic,
  formatDiagnostic,
  hasErrors,
  hclRangeString,
  LockFileError,
  parseLockFile,
  readLockFile,
} from "../../src/lock/lock_reader.ts";
import { versionString } from "../../src/registry/version.ts";

/** [severity, line, column, endLine, endColumn, summary, detail pattern] */
type Expected = readonly [string, number, number, number, number, string, RegExp];

function check(diags: readonly Diagnostic[], expected: readonly Expected[]): void {
  const got = diags.map((d) => [
    d.severity,
    d.range?.start.line,
    d.range?.start.column,
    d.range?.end.line,
    d.range?.end.column,
    d.summary,
  ]);
  assert.deepEqual(got, expected.map((e) => e.slice(0, 6)));
  expected.forEach((e, i) => assert.match(diags[i]!.detail, e[6], e[5]));
}

Deno.test("reader: every diagnostic with exact line:column ranges", () => {
  // deno-fmt-ignore
  const src = [
  '# header',                                           // 1
  'provider "registry.terraform.io/hashicorp/aws" {',   // 2
  '  version = "1.0.0"',                                // 3
  '}',                                                  // 4
  'provider "registry.terraform.io/hashicorp/aws" {',   // 5
  '  version = "2.0.0"',                                // 6
  '}',                                                  // 7
  'provider "hashicorp/null" {',                        // 8
  '  version = "1.0.0"',                                // 9
  '}',                                                  // 10
  'provider "example.com/bad--ns/x" {',                 // 11
  '}',                                                  // 12
  'provider "registry.terraform.io/hashicorp/a" {',     // 13
  '  version     = "v1.0"',                             // 14
  '  constraints = ">=1.0"',                            // 15
  '  hashes = [',                                       // 16
  '    "h1:ok",',                                       // 17
  '    "nocolon",',                                     // 18
  '  ]',                                                // 19
  '  extra = true',                                     // 20
  '}',                                                  // 21
  'provider "registry.terraform.io/hashicorp/b" {',     // 22
  '  hashes = []',                                      // 23
  '  constraints = "=> 1"',                             // 24
  '}',                                                  // 25
  'terraform {',                                        // 26
  '}',                                                  // 27
  'foo = "bar"',                                        // 28
  'module "x" {',                                       // 29
  '}',                                                  // 30
  'provider "terraform.io/builtin/terraform" {',        // 31
  '  version = "1.0.0"',                                // 32
  '}',                                                  // 33
  'provider "registry.terraform.io/-/old" {',           // 34
  '  version = "1.0.0"',                                // 35
  '}',                                                  // 36
  'provider "registry.terraform.io/hashicorp/c" {',     // 37
  '  version = "1.0.0"',                                // 38
  '  version = "1.0.1"',                                // 39
  '  hashes = "h1:x"',                                  // 40
  '}',                                                  // 41
  'provider "registry.terraform.io/hashicorp/d" {',     // 42
  '  version = "1.0.${x}"',                             // 43
  '  constraints = "1.0.0" junk',                       // 44
  '}',                                                  // 45
  'provider {',                                         // 46
  '}',                                                  // 47
  'provider "a" "b" {',                                 // 48
  '}',                                                  // 49
  'provider "registry.terraform.io/hashicorp/e" {',     // 50
  '  version = null',                                   // 51
  '  hashes = [1, "zh:x" "zh:y"]',                      // 52
  '}',                                                  // 53
  '',
].join("\n");
  const { lockFile, diagnostics } = parseLockFile(src, "t.hcl");
  check(diagnostics, [
    [
      "error",
      5,
      1,
      5,
      9,
      "Duplicate provider lock",
      /registry\.terraform\.io\/hashicorp\/aws at t\.hcl:2,1-47\.$/,
    ],
    [
      "error",
      8,
      10,
      8,
      26,
      "Non-normalized provider source address",
      /must be written as "registry\.terraform\.io\/hashicorp\/null"/,
    ],
    [
      "error",
      11,
      10,
      11,
      33,
      "Invalid provider source address",
      /fully-qualified address of the form "hostname\/namespace\/type"/,
    ],
    [
      "error",
      14,
      17,
      14,
      23,
      "Invalid provider version number",
      /hashicorp\/a is invalid: a "v" prefix should not be used\.$/,
    ],
    [
      "error",
      15,
      17,
      15,
      24,
      "Invalid provider version constraints",
      /must be written in normalized form: ">= 1\.0\.0"\.$/,
    ],
    [
      "error",
      18,
      5,
      18,
      14,
      "Invalid provider hash string",
      /^Cannot interpret "nocolon" as a provider hash: hash string must start with a scheme keyword followed by a colon\.$/,
    ],
    [
      "error",
      20,
      3,
      20,
      8,
      "Unsupported argument",
      /^An argument named "extra" is not expected here\.$/,
    ],
    ["error", 22, 46, 22, 47, "Missing required argument", /The argument "version" is required/],
    [
      "error",
      23,
      12,
      23,
      14,
      "Invalid provider hash set",
      /must either be omitted or contain at least one hash value/,
    ],
    [
      "error",
      24,
      17,
      24,
      23,
      "Invalid provider version constraints",
      /are invalid: invalid specification "=> 1": invalid constraint operator "=>"; did you mean ">="\?\.$/,
    ],
    [
      "error",
      26,
      1,
      26,
      10,
      "Unsupported block type",
      /^Blocks of type "terraform" are not expected here\.$/,
    ],
    [
      "error",
      28,
      1,
      28,
      4,
      "Unsupported argument",
      /^An argument named "foo" is not expected here\.$/,
    ],
    [
      "warning",
      29,
      1,
      29,
      7,
      "Dependency locks for modules are not yet supported",
      /only supports dependency locks for providers/,
    ],
    [
      "error",
      31,
      10,
      31,
      42,
      "Invalid provider source address",
      /^Cannot lock a version for built-in provider terraform\.io\/builtin\/terraform\./,
    ],
    [
      "error",
      34,
      10,
      34,
      39,
      "Invalid provider source address",
      /registry\.terraform\.io\/-\/old is a special provider that is not eligible/,
    ],
    [
      "error",
      39,
      3,
      39,
      10,
      "Attribute redefined",
      /already set at t\.hcl:38,3-10\. Each argument may be set only once\.$/,
    ],
    ["error", 40, 12, 40, 18, "Invalid expression", /^A static list expression is required\.$/],
    ["error", 43, 18, 43, 20, "Template sequences not allowed", /"\$\$\{" for a literal/],
    ["error", 44, 25, 44, 29, "Missing newline after argument", /must end with a newline/],
    [
      "error",
      46,
      10,
      46,
      11,
      "Missing source_addr for provider",
      /^All provider blocks must have 1 labels \(source_addr\)\.$/,
    ],
    [
      "error",
      48,
      14,
      48,
      17,
      "Extraneous label for provider",
      /^Only 1 labels \(source_addr\) are expected/,
    ],
    ["error", 51, 13, 51, 17, "Missing required argument", /must contain a "version" argument/],
    ["error", 52, 23, 52, 29, "Missing item separator", /Expected a comma/],
  ]);
  assert.ok(hasErrors(diagnostics));
  // The first of a duplicate wins; blocks with a bad version are dropped; the first
  // of a redefined argument wins.
  assert.deepEqual(
    lockFile.allProviders().map((p) => `${p.address.type} ${versionString(p.version)}`),
    ["aws 1.0.0", "c 1.0.0"],
  );
  assert.equal(
    formatDiagnostic(diagnostics[0]!),
    "t.hcl:5:1: error: Duplicate provider lock; This lockfile already declared a lock for provider registry.terraform.io/hashicorp/aws at t.hcl:2,1-47.",
  );
  const err = new LockFileError(diagnostics);
  assert.match(
    err.message,
    /^Invalid dependency lock file \(22 errors\):\nt\.hcl:5:1: error: Duplicate/,
  );
});

Deno.test("reader: non-normalised versions and constraints", () => {
  const text = (v: string, c: string) =>
    `provider "registry.terraform.io/hashicorp/x" {\n  version     = ${v}\n  constraints = ${c}\n}\n`;
  for (const v of ['"1.0"', '"1"', '"1.02.0"', '"01.0.0"', "1"]) {
    const { diagnostics, lockFile } = parseLockFile(text(v, '"~> 1.0"'), "f");
    check(diagnostics, [[
      "error",
      2,
      17,
      2,
      17 + v.length,
      "Invalid provider version number",
      /must be written in normalized form: "1\.0\.0"|"1\.2\.0"/,
    ]]);
    assert.equal(lockFile.size, 1); // like Terraform, the parsed version is still kept
  }
  const empty = parseLockFile(text('""', '"~> 1.0"'), "f");
  check(empty.diagnostics, [[
    "error",
    2,
    17,
    2,
    19,
    "Invalid provider version number",
    /is invalid: empty specification\.$/,
  ]]);
  for (const c of ['"~> 1"', '">= 1.0, < 2.0"', '"<2.0.0, >=1.0.0"', '"1.0.0,"']) {
    const { diagnostics } = parseLockFile(text('"1.0.0"', c), "f");
    assert.equal(diagnostics.length, 1, c);
    assert.equal(diagnostics[0]!.summary, "Invalid provider version constraints");
    assert.equal(diagnostics[0]!.range?.start.column, 17);
  }
  const nul = parseLockFile(text('"1.0.0"', "null"), "f");
  check(nul.diagnostics, [["error", 3, 17, 3, 21, "Unsuitable value type", /must not be null/]]);
  const ok = parseLockFile(text(`"1.0.0-beta+x"`, `">= 0.9.0, 1.0.0-beta+x"`), "f");
  assert.deepEqual(ok.diagnostics, []);
});

Deno.test("reader: syntax errors recover and keep positions", () => {
  const src = [
    'provider "registry.terraform.io/hashicorp/a" {', // 1
    '  version = "1.0.0', // 2: unterminated
    "}", // 3
    'provider "registry.terraform.io/hashicorp/b" {', // 4
    '  version = "1.0.\\q0"', // 5: bad escape
    '  hashes = ["h1:\\\\x\\q"]', // 6: escaped backslash, then a bad escape
    "}", // 7
    "/* unfinished", // 8
  ].join("\n");
  const { diagnostics } = parseLockFile(src, "s.hcl");
  check(diagnostics, [
    ["error", 2, 13, 2, 19, "Unterminated template string", /No closing marker/],
    [
      "error",
      5,
      18,
      5,
      20,
      "Invalid escape sequence",
      /"q" is not a valid escape sequence selector/,
    ],
    [
      "error",
      6,
      20,
      6,
      22,
      "Invalid escape sequence",
      /"q" is not a valid escape sequence selector/,
    ],
    ["error", 8, 1, 8, 14, "Unterminated comment", /closing marker/],
  ]);
  const bad = parseLockFile(
    'provider "registry.terraform.io/hashicorp/a" {\n  version = "\\q"\n}\n',
    "e.hcl",
  );
  check(bad.diagnostics, [[
    "error",
    2,
    14,
    2,
    16,
    "Invalid escape sequence",
    /"q" is not a valid escape sequence selector/,
  ]]);
  const unclosed = parseLockFile(
    'provider "registry.terraform.io/hashicorp/a" {\n  version = "1.0.0"\n',
    "u.hcl",
  );
  check(unclosed.diagnostics, [[
    "error",
    1,
    46,
    1,
    47,
    "Unclosed configuration block",
    /no closing brace/,
  ]]);
  assert.equal(unclosed.lockFile.size, 1);
  const junk = parseLockFile(
    '= 1\nprovider "registry.terraform.io/hashicorp/a" { version = "1.0.0" }\n',
    "j.hcl",
  );
  check(junk.diagnostics, [[
    "error",
    1,
    1,
    1,
    2,
    "Argument or block definition required",
    /required here/,
  ]]);
  assert.equal(junk.lockFile.size, 1, "single-line blocks are accepted");
});

Deno.test("reader: comments, escapes, unicode columns and empty files", () => {
  const src = [
    "// leading comment",
    "# another",
    '/* block */ provider "registry.terraform.io/hashicorp/a" { # trailing',
    '  version = "1.0.0" // trailing',
    '  hashes = [ "h1:\\u0041", # comment inside',
    '    "zh:$${x}%%{y}",',
    "  ]",
    "}",
    'provider "münchen.example/ns/typ" {',
    '  versión = "1.0.0"',
    "}",
  ].join("\n");
  const { diagnostics, lockFile, headerTool } = parseLockFile(src, "c.hcl");
  assert.equal(headerTool, undefined);
  // The IDN host label is already in canonical (Unicode display) form.
  check(diagnostics, [
    ["error", 9, 35, 9, 36, "Missing required argument", /"version" is required/],
    ["error", 10, 3, 10, 10, "Unsupported argument", /named "versión"/],
  ]);
  assert.deepEqual(lockFile.allProviders()[0]?.hashes, ["h1:A", "zh:${x}%{y}"]);
  for (const empty of ["", "\n\n", "# only a comment\n"]) {
    const r = parseLockFile(empty, "e");
    assert.deepEqual(r.diagnostics, []);
    assert.ok(r.lockFile.isEmpty());
  }
});

Deno.test("reader: files that cannot be read or decoded", async () => {
  const missing = await readLockFile("/nonexistent/dir/.terraform.lock.hcl");
  assert.equal(missing.diagnostics.length, 1);
  assert.equal(missing.diagnostics[0]!.summary, "Failed to read file");
  assert.equal(
    missing.diagnostics[0]!.detail,
    'The configuration file "/nonexistent/dir/.terraform.lock.hcl" could not be read.',
  );
  assert.equal(
    formatDiagnostic(missing.diagnostics[0]!).split(":")[0],
    "/nonexistent/dir/.terraform.lock.hcl",
  );
  assert.ok(missing.lockFile.isEmpty());
  const latin1 = parseLockFile(new Uint8Array([0x23, 0x20, 0xe9, 0x0a]), "l.hcl");
  assert.equal(latin1.diagnostics[0]?.summary, "Invalid character encoding");
});

Deno.test("hclRangeString uses HCL notation", () => {
  const p = (line: number, column: number) => ({ line, column, byte: 0 });
  assert.equal(hclRangeString("f", { start: p(4, 1), end: p(4, 49) }), "f:4,1-49");
  assert.equal(hclRangeString("f", { start: p(4, 1), end: p(6, 2) }), "f:4,1-6,2");
});
