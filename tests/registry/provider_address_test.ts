import assert from "node:assert/strict";
import {
  compareProviderAddresses,
  DEFAULT_REGISTRY_HOST,
  forDisplay,
  hostnameForDisplay,
  impliedProviderForUnqualifiedType,
  InvalidHostnameError,
  InvalidProviderAddressError,
  InvalidProviderPartError,
  isBuiltIn,
  isDefaultProvider,
  isLegacy,
  newLegacyProvider,
  normalizeHostname,
  parseProviderPart,
  parseProviderSource,
  providerAddressEquals,
  providerAddressString,
} from "../../src/registry/provider_address.ts";

Deno.test("parseProviderSource: valid sources normalise", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["registry.terraform.io/hashicorp/aws", "registry.terraform.io/hashicorp/aws"],
    ["registry.terraform.io/HashiCorp/AWS", "registry.terraform.io/hashicorp/aws"],
    ["REGISTRY.Terraform.IO/hashicorp/aws", "registry.terraform.io/hashicorp/aws"],
    ["hashicorp/aws", "registry.terraform.io/hashicorp/aws"],
    ["HashiCorp/AWS", "registry.terraform.io/hashicorp/aws"],
    ["aws", "registry.terraform.io/hashicorp/aws"],
    ["AWS", "registry.terraform.io/hashicorp/aws"],
    ["example.com/foo-bar/baz-boop", "example.com/foo-bar/baz-boop"],
    ["foo-bar/baz-boop", "registry.terraform.io/foo-bar/baz-boop"],
    ["localhost:8080/foo/bar", "localhost:8080/foo/bar"],
    ["example.com:443/foo/bar", "example.com/foo/bar"],
    ["registry.terraform.io/-/aws", "registry.terraform.io/-/aws"],
    ["terraform.io/builtin/terraform", "terraform.io/builtin/terraform"],
    ["example.com/Испытание/aws", "example.com/испытание/aws"],
    ["example.com/mu\u0308nchen/aws", "example.com/m\u00fcnchen/aws"],
    ["münchen.example/foo/bar", "münchen.example/foo/bar"],
    ["127.0.0.1:8443/foo/bar", "127.0.0.1:8443/foo/bar"],
  ];
  for (const [input, want] of cases) {
    assert.equal(providerAddressString(parseProviderSource(input)), want, input);
  }
  const idn = parseProviderSource("MÜNCHEN.example/foo/bar");
  assert.equal(idn.hostname, "xn--mnchen-3ya.example");
  assert.equal(forDisplay(idn), "münchen.example/foo/bar");
  assert.deepEqual(parseProviderSource("localhost:8080/foo/bar"), {
    hostname: "localhost:8080",
    namespace: "foo",
    type: "bar",
  });
});

Deno.test("parseProviderSource: invalid sources", () => {
  const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
    ["example.com/too/many/parts/here", "Invalid provider source string", /\[hostname\/\]/],
    ["/too///many//slashes", "Invalid provider source string", /format/],
    ["///", "Invalid provider source string", /format/],
    ["/ / /", "Invalid provider source string", /format/],
    ["", "Invalid provider source string", /format/],
    ["badhost!/hashicorp/aws", "Invalid provider source hostname", /"badhost!"/],
    ["xn--mnchen-3ya.de/hashicorp/aws", "Invalid provider source hostname", /punycode/],
    ["example.com:http/hashicorp/aws", "Invalid provider source hostname", /non-digit/],
    ["example.com:99999/hashicorp/aws", "Invalid provider source hostname", /out of range/],
    ["https/hashicorp/aws", "Invalid provider source hostname", /not a full URL/],
    ["a..b/hashicorp/aws", "Invalid provider source hostname", /empty label/],
    ["under_score.com/hashicorp/aws", "Invalid provider source hostname", /letters, digits/],
    ["example.com/badnamespace!/aws", "Invalid provider namespace", /letters, digits, and dashes/],
    ["example.com/bad--namespace/aws", "Invalid provider namespace", /multiple consecutive dashes/],
    ["example.com/-badnamespace/aws", "Invalid provider namespace", /leading or trailing/],
    ["example.com/badnamespace-/aws", "Invalid provider namespace", /leading or trailing/],
    ["example.com/bad.namespace/aws", "Invalid provider namespace", /dots are not allowed/],
    [
      "example.com/-/aws",
      "Invalid provider namespace",
      /only with hostname registry\.terraform\.io/,
    ],
    ["example.com/hashicorp/badtype!", "Invalid provider type", /letters, digits/],
    ["example.com/hashicorp/bad--type", "Invalid provider type", /consecutive dashes/],
    ["example.com/hashicorp/-badtype", "Invalid provider type", /leading or trailing/],
    ["example.com/hashicorp/badtype-", "Invalid provider type", /leading or trailing/],
    ["example.com/hashicorp/bad.type", "Invalid provider type", /dots are not allowed/],
    [
      "example.com/hashicorp/terraform-provider-bad",
      "Invalid provider type",
      /Did you mean "example\.com\/hashicorp\/bad"\?/,
    ],
    ["hashicorp/terraform-provider-aws", "Invalid provider type", /Did you mean "hashicorp\/aws"/],
    ["example.com/hashicorp/terraform-bad", "Invalid provider type", /redundant/],
    ["hashicorp/xn--abc", "Invalid provider type", /consecutive dashes/],
  ];
  for (const [input, summary, detail] of cases) {
    assert.throws(() => parseProviderSource(input), (e: unknown) => {
      assert.ok(e instanceof InvalidProviderAddressError, input);
      assert.equal(e.summary, summary, input);
      assert.match(e.detail, detail, input);
      assert.equal(e.message, `${e.summary}: ${e.detail}`);
      return true;
    });
  }
});

Deno.test("parseProviderPart", () => {
  assert.equal(parseProviderPart("FOO"), "foo");
  assert.equal(parseProviderPart("Испытание"), "испытание");
  assert.equal(parseProviderPart("mu\u0308nchen"), "m\u00fcnchen");
  assert.equal(parseProviderPart("a1-b2"), "a1-b2");
  const errs: ReadonlyArray<readonly [string, string]> = [
    ["", "must have at least one character"],
    ["a.b", "dots are not allowed"],
    ["a--b", "cannot use multiple consecutive dashes"],
    [
      "a_b",
      "must contain only letters, digits, and dashes, and may not use leading or trailing dashes",
    ],
    [
      "-a",
      "must contain only letters, digits, and dashes, and may not use leading or trailing dashes",
    ],
  ];
  for (const [input, msg] of errs) {
    assert.throws(() => parseProviderPart(input), (e: unknown) => {
      assert.ok(e instanceof InvalidProviderPartError);
      assert.equal(e.message, msg);
      return true;
    });
  }
});

Deno.test("normalizeHostname / hostnameForDisplay", () => {
  assert.equal(normalizeHostname("Example.COM"), "example.com");
  assert.equal(normalizeHostname("example.com:443"), "example.com");
  assert.equal(normalizeHostname("example.com:8443"), "example.com:8443");
  assert.equal(normalizeHostname("münchen.de:8443"), "xn--mnchen-3ya.de:8443");
  assert.equal(hostnameForDisplay("xn--mnchen-3ya.de:8443"), "münchen.de:8443");
  assert.equal(hostnameForDisplay("example.com"), "example.com");
  assert.throws(() => normalizeHostname(""), InvalidHostnameError);
  assert.throws(() => normalizeHostname("http"), /not a full URL/);
});

Deno.test("display, equality, ordering and classification", () => {
  const aws = parseProviderSource("hashicorp/aws");
  assert.equal(forDisplay(aws), "hashicorp/aws");
  assert.equal(providerAddressString(aws), "registry.terraform.io/hashicorp/aws");
  assert.equal(forDisplay(parseProviderSource("example.com/a/b")), "example.com/a/b");
  assert.ok(providerAddressEquals(aws, parseProviderSource("registry.terraform.io/hashicorp/aws")));
  assert.ok(!providerAddressEquals(aws, parseProviderSource("hashicorp/google")));
  assert.ok(isDefaultProvider(aws));
  assert.ok(!isBuiltIn(aws) && !isLegacy(aws));
  const tf = impliedProviderForUnqualifiedType("terraform");
  assert.equal(providerAddressString(tf), "terraform.io/builtin/terraform");
  assert.ok(isBuiltIn(tf));
  assert.ok(isBuiltIn(parseProviderSource("terraform.io/builtin/terraform")));
  assert.equal(
    providerAddressString(impliedProviderForUnqualifiedType("aws")),
    providerAddressString(aws),
  );
  // Terraform's ParseProviderSourceString fills the unknown namespace with hashicorp.
  assert.equal(
    providerAddressString(parseProviderSource("terraform")),
    "registry.terraform.io/hashicorp/terraform",
  );
  const legacy = newLegacyProvider("Whatever_Type");
  assert.ok(isLegacy(legacy));
  assert.ok(isLegacy(parseProviderSource("-/aws")));
  assert.equal(legacy.hostname, DEFAULT_REGISTRY_HOST);
  const sorted = [
    "registry.terraform.io/hashicorp/random",
    "example.com/z/a",
    "registry.terraform.io/hashicorp/aws",
    "registry.terraform.io/aaa/zzz",
    "localhost:8080/a/b",
  ].map(parseProviderSource).sort(compareProviderAddresses).map(providerAddressString);
  assert.deepEqual(sorted, [
    "example.com/z/a",
    "localhost:8080/a/b",
    "registry.terraform.io/aaa/zzz",
    "registry.terraform.io/hashicorp/aws",
    "registry.terraform.io/hashicorp/random",
  ]);
});
