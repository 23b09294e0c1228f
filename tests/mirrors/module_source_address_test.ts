import assert from "node:assert/strict";
import {
  classifySource,
  joinSubdir,
  normalizeSource,
  splitSubdir,
} from "../../src/mirrors/module_source_address.ts";
import { ModuleSourceError, redactSource } from "../../src/mirrors/module_source_errors.ts";

Deno.test("splitSubdir follows go-getter's SourceDirSubdir", () => {
  const cases: [string, string, string][] = [
    [
      "git::https://github.com/org/repo.git//modules/foo?ref=v1",
      "git::https://github.com/org/repo.git?ref=v1",
      "modules/foo",
    ],
    ["https://example.com/mod.tar.gz//sub", "https://example.com/mod.tar.gz", "sub"],
    ["https://example.com/mod.tar.gz", "https://example.com/mod.tar.gz", ""],
    ["dom.com/path/?q=p", "dom.com/path/?q=p", ""],
    ["proto://dom.com/path//*?q=p", "proto://dom.com/path?q=p", "*"],
    ["proto://dom.com/path//path2?q=p", "proto://dom.com/path?q=p", "path2"],
    ["https://h/x.zip?u=https://other//y", "https://h/x.zip?u=https://other//y", ""],
    ["git::ssh://git@h/r.git//a/b", "git::ssh://git@h/r.git", "a/b"],
  ];
  for (const [src, base, sub] of cases) {
    assert.deepEqual(splitSubdir(src), [base, sub], src);
    if (sub !== "") assert.deepEqual(splitSubdir(joinSubdir(base, sub)), [base, sub]);
  }
});

Deno.test("normalizeSource applies forced getters and Terraform's detectors", () => {
  const n = (s: string) => {
    const r = normalizeSource(s);
    return [r.base, r.subdir];
  };
  assert.deepEqual(n("github.com/org/repo"), ["git::https://github.com/org/repo.git", ""]);
  assert.deepEqual(n("github.com/org/repo?ref=v1.2.0"), [
    "git::https://github.com/org/repo.git?ref=v1.2.0",
    "",
  ]);
  assert.deepEqual(n("github.com/org/repo//modules/x?ref=v1"), [
    "git::https://github.com/org/repo.git?ref=v1",
    "modules/x",
  ]);
  assert.deepEqual(n("github.com/org/repo/modules/x"), [
    "git::https://github.com/org/repo.git",
    "modules/x",
  ]);
  assert.deepEqual(n("git@github.com:org/repo.git?ref=main"), [
    "git::ssh://git@github.com/org/repo.git?ref=main",
    "",
  ]);
  assert.deepEqual(n("git::git@example.com:org/repo.git//sub"), [
    "git::ssh://git@example.com/org/repo.git",
    "sub",
  ]);
  assert.deepEqual(n("git::https://example.com/r.git?ref=v1&depth=1"), [
    "git::https://example.com/r.git?ref=v1&depth=1",
    "",
  ]);
  assert.deepEqual(n("https://example.com/m.tar.gz//a/./b/"), [
    "https::https://example.com/m.tar.gz",
    "a/b",
  ]);
  assert.deepEqual(n("s3::https://s3.amazonaws.com/b/m.zip"), [
    "s3::https://s3.amazonaws.com/b/m.zip",
    "",
  ]);
  assert.deepEqual(n("bucket.s3.amazonaws.com/m.zip"), [
    "s3::https://bucket.s3.amazonaws.com/m.zip",
    "",
  ]);
  for (
    const bad of [
      "",
      "./local",
      "../x",
      "/abs",
      "example.com/foo",
      "git@h:/abs.git",
      "https://h/x//../..",
    ]
  ) {
    assert.throws(() => normalizeSource(bad), ModuleSourceError);
  }
});

Deno.test("classifySource: git refs/depth, archive suffixes and ?archive=", () => {
  const c = (s: string) => classifySource(normalizeSource(s));
  assert.deepEqual(c("git::https://h/r.git?ref=v1&depth=3"), {
    type: "git",
    remote: "https://h/r.git",
    ref: "v1",
    depth: 3,
  });
  assert.deepEqual(c("github.com/o/r"), { type: "git", remote: "https://github.com/o/r.git" });
  assert.deepEqual(c("git::https://h/r.git?ref=v1&foo=bar"), {
    type: "git",
    remote: "https://h/r.git?foo=bar",
    ref: "v1",
  });
  assert.deepEqual(c("https://h/m.tar.gz?sig=abc"), {
    type: "archive",
    url: "https://h/m.tar.gz?sig=abc",
    format: "tar.gz",
  });
  assert.deepEqual(c("https://h/m.tgz"), {
    type: "archive",
    url: "https://h/m.tgz",
    format: "tar.gz",
  });
  assert.deepEqual(c("https://h/m.zip"), {
    type: "archive",
    url: "https://h/m.zip",
    format: "zip",
  });
  assert.deepEqual(c("https://h/download?archive=zip&x=1"), {
    type: "archive",
    url: "https://h/download?x=1",
    format: "zip",
  });
  assert.deepEqual(c("https://h/m.tar.bz2").type, "unsupported");
  assert.deepEqual(c("https://h/m.tar").type, "unsupported");
  assert.deepEqual(c("https://h/page").type, "unsupported");
  assert.deepEqual(c("https://h/m.zip?archive=false").type, "unsupported");
  assert.deepEqual(c("s3::https://s3.amazonaws.com/b/m.zip").type, "unsupported");
  assert.deepEqual(c("git::https://h/r.git?sshkey=abc").type, "unsupported");
  assert.deepEqual(c("git::file:///tmp/r.git").type, "unsupported");
  assert.deepEqual(
    classifySource(normalizeSource("git::file:///tmp/r.git"), { allowFileRemotes: true }).type,
    "git",
  );
  assert.throws(() => c("git::https://h/r.git?ref=--upload-pack=x"), ModuleSourceError);
  assert.throws(() => c("git::https://h/r.git?depth=abc"), ModuleSourceError);
  assert.throws(() => c("https://h/x?archive=rar"), ModuleSourceError);
});

Deno.test("redactSource hides passwords and ssh keys", () => {
  assert.deepEqual(
    redactSource("git::https://u:tok@h/r.git?sshkey=AAAA&ref=1"),
    "git::https://u:***@h/r.git?sshkey=***&ref=1",
  );
});
