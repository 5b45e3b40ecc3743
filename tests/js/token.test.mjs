// Unit tests of web/js/token.js: what the page can tell of a refused token without the server's secret.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { expiryOf, refusalOf, refusalText } from "../../web/js/token.js";

/** A JWT with `claims` as its payload and a signature nobody checks here. */
function jwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe("expiryOf", () => {
  test("reads exp from the payload, base64url without padding", () => {
    assert.equal(expiryOf(jwt({ sub: "alice~?>", exp: 1795478400 })), 1795478400);
  });

  test("is null for a token without exp, or no JWT", () => {
    assert.equal(expiryOf(jwt({ sub: "alice" })), null);
    assert.equal(expiryOf("not-a-token"), null);
    assert.equal(expiryOf("a.%%%.b"), null);
    assert.equal(expiryOf(jwt({ exp: "soon" })), null);
  });
});

describe("refusalOf", () => {
  test("tells a missing, an expired and an unaccepted token apart", () => {
    assert.deepEqual(refusalOf(null, 1000), { reason: "none" });
    assert.deepEqual(refusalOf(jwt({ exp: 900 }), 1000), { reason: "expired", expiredAt: 900 });
    assert.deepEqual(refusalOf(jwt({ exp: 2000 }), 1000), { reason: "refused" });
    assert.deepEqual(refusalOf("garbled", 1000), { reason: "refused" });
  });
});

describe("refusalText", () => {
  test("says which it is, and when an expired token expired", () => {
    assert.match(refusalText({ reason: "none" }), /opened without one/);
    const expiredAt = 1795478400;
    const text = refusalText({ reason: "expired", expiredAt });
    assert.ok(text.includes(`expired at ${new Date(expiredAt * 1000).toLocaleString()}`), text);
    assert.match(text, /ask for a new one/);
    assert.match(refusalText({ reason: "expired", expiredAt: null }), /^Your access token expired: /);
    assert.match(refusalText({ reason: "refused" }), /does not accept this page's access token/);
  });

  test("no two reasons share a text", () => {
    const texts = new Set(["none", "refused"].map((reason) => refusalText({ reason })));
    texts.add(refusalText({ reason: "expired", expiredAt: 0 }));
    assert.equal(texts.size, 3);
  });
});
