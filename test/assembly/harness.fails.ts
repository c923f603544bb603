// Not part of the specs: scripts/test.mjs runs it alone (as-pect.fails.config.js) and must count one
// passed and one failed test, proving failing specs are reported.

describe("harness", () => {
  test("this one passes", () => {
    expect<i32>(1 + 1).toBe(2);
  });
  test("this expectation is wrong on purpose", () => {
    expect<i32>(1 + 1).toBe(3);
  });
});
