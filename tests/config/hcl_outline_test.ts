import assert from "node:assert/strict";
import { findBlocks, outlineHcl } from "../../src/config/_hcl_outline.ts";

Deno.test("outlineHcl() locates blocks and attributes past strings, comments and heredocs", () => {
  const src = `/* block comment
resource "fake" "a" {
*/
locals {
  s = "quote \\" and \${jsonencode({ a = "}" })} {"
  h = <<-EOT
    resource "fake" "b" {
    EOT
  # resource "fake" "c" {
  o = { nested = { deep = [1, 2] } }
}
resource "null_resource" "one" { triggers = {} }
module "m" {
  source = "./m"
  providers = {
    aws = aws.west
  }
}
`;
  const root = outlineHcl(src);
  assert.deepEqual(root.blocks.map((b) => [b.type, b.labels, b.line]), [
    ["locals", [], 4],
    ["resource", ["null_resource", "one"], 12],
    ["module", ["m"], 13],
  ]);
  const locals = root.blocks[0];
  assert.deepEqual([...(locals?.attrs ?? [])], [["s", 5], ["h", 6], ["o", 10]]);
  const [m] = findBlocks(root, [{ type: "module", labels: ["m"] }]);
  assert.equal(m?.attrs.get("providers"), 15);
  assert.equal(m?.attrs.get("aws"), undefined);
  assert.deepEqual(findBlocks(root, [{ type: "resource", labels: ["fake", "b"] }]), []);
});
