// generate.js writes vectors.json: webhook signatures computed, and requests
// judged, by Twilio's official Node helper library (the `twilio` package),
// which convo did not write. signature_test.go replays every case against
// convo's Handler and expects the same verdicts.
//
// To regenerate, from this directory:
//
//	mkdir -p /tmp/tw && (cd /tmp/tw && npm init -y && npm install twilio@6)
//	NODE_PATH=/tmp/tw/node_modules node generate.js > vectors.json
//
// The output depends only on this file and the twilio version: no clock, no
// randomness. Non-ASCII characters are written as \u escapes (characters
// above U+FFFF as surrogate pairs), so the file is plain ASCII.
//
// Each case has:
//
//	name, kind       what it exercises ("auth-token", "shared-key",
//	                 "tampered" or "node-normalized-url")
//	url              where the request is posted (and what validateRequest
//	                 is given)
//	signed_url       the URL the signature was computed for
//	form             the body's parameters, in order, repeats included
//	secret           the auth token, or the SharedKey secret
//	algorithm        "" for the auth token, else the algorithm the settings
//	                 header names, upper-cased (Node upper-cases it too)
//	settings         X-Twilio-Webhooks-Signature-Settings, or ""
//	signature        X-Twilio-Signature, as sent
//	valid            what Node's validateRequest decides
//	utf16_order      set when sorting by bytes instead of UTF-16 code units
//	                 gives another signature (the case tells the two apart)
//
// Cases of kind "node-normalized-url" are valid for Node only through its
// fallback of re-encoding the received URL with `new URL()` (for back ends
// that signed an escaped form of it); convo checks the URL as received, with
// and without its port, and refuses them.
"use strict";

const webhooks = require("twilio/lib/webhooks/webhooks");
const twilioVersion = require("twilio/package.json").version;

const authToken = "9f1c0de3b2a4e5f60718293a4b5c6d7e";
const otherToken = "0123456789abcdef0123456789abcdef";
const sharedSecret = "whsec_convo_interop_9c4f1a7e2d3b5c6a";
const sharedKeyID = "webhooks_sharedkey_0123456789abcdef0123456789abcdef";

// params turns ordered pairs into the object a body parser gives Node: a
// string for a name sent once, an array of every value (in order, repeats
// kept) for a name sent more than once.
function params(form) {
  const p = Object.create(null);
  for (const [name, value] of form) {
    if (name in p) {
      p[name] = [].concat(p[name], value);
    } else {
      p[name] = value;
    }
  }
  return p;
}

// nodeAlgorithm is what Node's helper is given for a settings header:
// undefined (HMAC_SHA1) without one.
function nodeAlgorithm(settings) {
  return settings ? webhooks.getSignatureAlgorithm(settings) : undefined;
}

// byteOrderSignature signs like getExpectedTwilioSignature but sorts names
// and values by their UTF-8 bytes: it tells which cases depend on UTF-16
// order.
function byteOrderSignature(secret, url, form, algorithm) {
  const crypto = require("crypto");
  const cmp = (a, b) => Buffer.compare(Buffer.from(a, "utf-8"), Buffer.from(b, "utf-8"));
  const p = params(form);
  let data = url;
  for (const name of Object.keys(p).sort(cmp)) {
    const values = Array.isArray(p[name]) ? Array.from(new Set(p[name])).sort(cmp) : [p[name]];
    for (const v of values) data += name + v;
  }
  const hash = algorithm && algorithm.toUpperCase() === "HMAC_SHA256" ? "sha256" : "sha1";
  return crypto.createHmac(hash, secret).update(Buffer.from(data, "utf-8")).digest("base64");
}

const cases = [];

function push(c) {
  const alg = nodeAlgorithm(c.settings);
  const out = {
    name: c.name,
    kind: c.kind,
    url: c.url,
    signed_url: c.signedUrl,
    form: c.form,
    secret: c.secret,
    algorithm: c.settings ? alg.toUpperCase() : "",
    settings: c.settings,
    signature: c.signature,
    valid: webhooks.validateRequest(c.secret, c.signature, c.url, params(c.form), alg),
  };
  if (c.signature && c.valid !== undefined && c.valid !== out.valid) {
    throw new Error(`${c.name}: Node says valid=${out.valid}, the generator expected ${c.valid}`);
  }
  if (out.valid && (alg === undefined || /^HMAC_SHA(1|256)$/i.test(alg))) {
    if (byteOrderSignature(c.secret, c.signedUrl, c.form, alg) !== c.signature) {
      out.utf16_order = true;
    }
  }
  if (cases.some((x) => x.name === out.name)) {
    throw new Error(`duplicate case name ${out.name}`);
  }
  cases.push(out);
  return out;
}

// signed adds a request signed as Twilio signs it: for signedUrl (by default
// the URL it is posted to) with the given secret and settings header.
function signed({ name, kind, url, signedUrl = url, form, secret = authToken, settings = "", valid = true }) {
  const signature = webhooks.getExpectedTwilioSignature(secret, signedUrl, params(form), nodeAlgorithm(settings));
  return push({ name, kind: kind || (settings ? "shared-key" : "auth-token"), url, signedUrl, form, secret, settings, signature, valid });
}

// tampered adds base's request changed on the way: another form, URL,
// signature or settings header, with base's signature unless told.
function tampered(base, name, change, valid = false) {
  const c = {
    name: base.name + "/" + name,
    kind: "tampered",
    url: base.url,
    signedUrl: base.signed_url,
    form: base.form.map((p) => p.slice()),
    secret: base.secret,
    settings: base.settings,
    signature: base.signature,
    valid,
  };
  change(c);
  return push(c);
}

function without(form, name) {
  return form.filter(([n]) => n !== name);
}

function withValue(form, name, value) {
  return form.map(([n, v]) => [n, n === name ? value : v]);
}

const hook = "https://convo.example.com/sms";
const sid = (prefix, n) => prefix + n.toString(16).padStart(32, "0");

// A Programmable Messaging SMS webhook as Twilio posts it: 19 parameters.
const sms = [
  ["ToCountry", "US"],
  ["ToState", "CA"],
  ["SmsMessageSid", sid("SM", 0x5eed01)],
  ["NumMedia", "0"],
  ["ToCity", "SAN FRANCISCO"],
  ["FromZip", "94105"],
  ["SmsSid", sid("SM", 0x5eed01)],
  ["FromState", "CA"],
  ["SmsStatus", "received"],
  ["FromCity", "SAN FRANCISCO"],
  ["Body", "Hi! It's me: caf\u00e9 & cr\u00e8me, 50% off = deal? +1 \u{1F600}"],
  ["FromCountry", "US"],
  ["To", "+15005550006"],
  ["ToZip", "94103"],
  ["NumSegments", "1"],
  ["MessageSid", sid("SM", 0x5eed01)],
  ["AccountSid", sid("AC", 0xacc7)],
  ["From", "+14158675308"],
  ["ApiVersion", "2010-04-01"],
];
if (sms.length !== 19) throw new Error("the SMS form has " + sms.length + " parameters");

const minimal = (body, extra = []) => [
  ["From", "+14158675308"],
  ["To", "+15005550006"],
  ["Body", body],
  ["MessageSid", sid("SM", 0x1000 + cases.length)],
  ...extra,
];

// Auth token, realistic forms and URLs.
const smsCase = signed({ name: "sms-19-params", url: hook, form: sms });
const smsQuery = signed({ name: "sms-19-params/query", url: hook + "?tenant=acme&lang=en-US", form: sms });
signed({ name: "sms/explicit-443", url: "https://convo.example.com:443/sms", form: sms });
signed({ name: "sms/signed-443-posted-without", url: hook, signedUrl: "https://convo.example.com:443/sms", form: sms });
signed({ name: "sms/signed-without-posted-443", url: "https://convo.example.com:443/sms", signedUrl: hook, form: sms });
signed({ name: "sms/http-explicit-80", url: "http://convo.example.com:80/sms", form: sms });
signed({ name: "sms/http-signed-80-posted-without", url: "http://convo.example.com/sms", signedUrl: "http://convo.example.com:80/sms", form: sms });
signed({ name: "sms/http-signed-without-posted-80", url: "http://convo.example.com:80/sms", signedUrl: "http://convo.example.com/sms", form: sms });
const port8443 = signed({ name: "sms/port-8443", url: "https://convo.example.com:8443/sms", form: sms });
signed({ name: "sms/signed-without-posted-8443", url: "https://convo.example.com:8443/sms", signedUrl: hook, form: sms });
signed({ name: "sms/query-443", url: "https://convo.example.com:443/sms?tenant=acme", signedUrl: "https://convo.example.com/sms?tenant=acme", form: sms });
signed({
  name: "sms/path-and-encoded-query",
  url: "https://hooks.convo.example.com/twilio/v2/sms/?q=caf%C3%A9&n=a+b&pct=100%25&empty=&flag",
  form: sms,
});
signed({ name: "sms/query-apostrophe-as-received", url: hook + "?name=O'hara&city=Trezzo+Sull'Adda", form: sms });
signed({ name: "sms/localhost-port", url: "http://localhost:8080/webhooks/sms?x=1", form: sms });

const whatsapp = signed({
  name: "whatsapp",
  url: hook,
  form: [
    ["SmsMessageSid", sid("SM", 0xa1)],
    ["NumMedia", "0"],
    ["ProfileName", "Zo\u00eb \u{1F308} \u00c5ngstr\u00f6m"],
    ["MessageType", "text"],
    ["SmsSid", sid("SM", 0xa1)],
    ["WaId", "14158675308"],
    ["SmsStatus", "received"],
    ["Body", "\u00bfQu\u00e9 tal? \u4f60\u597d \u{1F44B}\u{1F3FD}"],
    ["To", "whatsapp:+15005550006"],
    ["NumSegments", "1"],
    ["ReferralNumMedia", "0"],
    ["MessageSid", sid("SM", 0xa1)],
    ["AccountSid", sid("AC", 0xacc7)],
    ["From", "whatsapp:+14158675308"],
    ["ApiVersion", "2010-04-01"],
  ],
});

signed({
  name: "mms-two-media",
  url: hook,
  form: [
    ["From", "+14158675308"],
    ["To", "+15005550006"],
    ["Body", ""],
    ["NumMedia", "2"],
    ["MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1?a=1&b=2"],
    ["MediaContentType0", "image/jpeg"],
    ["MediaUrl1", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2"],
    ["MediaContentType1", "text/vcard; charset=utf-8"],
    ["MessageSid", sid("MM", 0x3)],
  ],
});

signed({
  name: "long-body-1600",
  url: hook,
  form: minimal("\u{1F600}a\u00e9 ".repeat(320)),
});

// Repeated parameters.
const repeated = signed({
  name: "repeated/2-and-3-values",
  url: hook,
  form: minimal("repeats", [
    ["Tag", "zeta"],
    ["Label", "c"],
    ["Tag", "alpha"],
    ["Label", "a"],
    ["Label", "b"],
  ]),
});
const repeatedDup = signed({
  name: "repeated/duplicates",
  url: hook + "?tenant=acme",
  form: minimal("dups", [
    ["Dup", "x"],
    ["Mix", "b"],
    ["Dup", "x"],
    ["Mix", "a"],
    ["Mix", "b"],
    ["Empty", ""],
    ["Empty", ""],
    ["Empty", "0"],
  ]),
});
signed({
  name: "repeated/body-twice",
  url: hook,
  form: [
    ["From", "+14158675308"],
    ["To", "+15005550006"],
    ["Body", "second"],
    ["Body", "first"],
  ],
});
const repeatedUnicode = signed({
  name: "repeated/utf16-order-values",
  url: hook,
  form: minimal("utf16 values", [
    ["Sym", "\uFF21"],
    ["Sym", "\u{1F600}"],
    ["Sym", "\uE000"],
    ["Sym", "\u{10000}"],
    ["Sym", "\uFF21"],
    ["Sym", "z"],
  ]),
});

// Names and values beyond ASCII letters.
const unicode = signed({
  name: "unicode/utf16-order-names",
  url: hook,
  form: minimal("utf16 names", [
    ["K\uFF21", "fullwidth A"],
    ["K\u{1F600}", "grinning face"],
    ["K\uE000", "private use"],
    ["K\u{10FFFF}", "last code point"],
    ["Kz", "ascii"],
    ["Pr\u00e9nom", "Ren\u00e9e"],
    ["\u540d\u524d", "\u5c71\u7530"],
  ]),
});
signed({
  name: "unicode/bmp-only",
  url: hook,
  form: minimal("\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439\u0442\u0435 \u03a9 \u00df", [
    ["\u00c9t\u00e9", "\u00e9t\u00e9"],
    ["Etat", "\u00e9tat"],
  ]),
});
const special = signed({
  name: "special-characters",
  url: hook,
  form: minimal(" leading and trailing spaces ", [
    ["a b", "c d"],
    ["a+b", "+"],
    ["a&b", "&"],
    ["a=b", "="],
    ["100%", "%"],
    ["pct", "%41%zz"],
    ["plus", "+14155550100"],
    ["empty", ""],
    ["1", "one"],
    ["10", "ten"],
    ["2", "two"],
    ["tab", "a\tb\nc\r\nd"],
  ]),
});
signed({ name: "empty-name", url: hook, form: minimal("empty name", [["", "nameless"]]) });
signed({ name: "empty-values", url: hook, form: minimal("", [["ProfileName", ""], ["Extra", ""]]) });

// SharedKey signatures.
const settings1 = `key=${sharedKeyID},algorithm=HMAC_SHA1`;
const settings256 = `key=${sharedKeyID},algorithm=HMAC_SHA256`;
const shared1 = signed({ name: "shared-key/sha1", url: hook, form: sms, secret: sharedSecret, settings: settings1 });
const shared256 = signed({ name: "shared-key/sha256", url: hook, form: sms, secret: sharedSecret, settings: settings256 });
const shared256Rep = signed({
  name: "shared-key/sha256-repeated-unicode-query",
  url: hook + "?tenant=acme&q=caf%C3%A9",
  form: repeatedUnicode.form,
  secret: sharedSecret,
  settings: settings256,
});
signed({ name: "shared-key/sha256-algorithm-first", url: hook, form: sms, secret: sharedSecret, settings: `algorithm=HMAC_SHA256,key=${sharedKeyID}` });
signed({ name: "shared-key/sha256-spaces-lower-case", url: hook, form: sms, secret: sharedSecret, settings: ` key = ${sharedKeyID} , algorithm = hmac_sha256 ` });
signed({ name: "shared-key/no-algorithm-is-sha1", url: hook, form: sms, secret: sharedSecret, settings: `key=${sharedKeyID}` });
signed({ name: "shared-key/sha256-signed-without-posted-443", url: "https://convo.example.com:443/sms", signedUrl: hook, form: unicode.form, secret: sharedSecret, settings: settings256 });
signed({ name: "shared-key/sha1-special", url: hook, form: special.form, secret: sharedSecret, settings: settings1 });

// Tampered requests: Node's verdict decides; most are refused.
const smuggle = (c) => c.form.push(["Body", "smuggled"], ["From", "+19999999999"]);
for (const base of [smsCase, smsQuery, repeated, unicode, whatsapp, shared1, shared256, shared256Rep]) {
  tampered(base, "smuggled-body-and-from", smuggle);
  tampered(base, "smuggled-body", (c) => c.form.push(["Body", "smuggled"]));
  tampered(base, "changed-body", (c) => (c.form = withValue(c.form, "Body", c.form.find(([n]) => n === "Body")[1] + "!")));
  tampered(base, "dropped-to", (c) => (c.form = without(c.form, "To")));
  tampered(base, "other-path", (c) => (c.url = c.url.replace("/sms", "/sms2")));
}
tampered(smsCase, "changed-from", (c) => (c.form = withValue(c.form, "From", "+19999999999")));
tampered(smsCase, "dropped-from-city", (c) => (c.form = without(c.form, "FromCity")));
tampered(smsCase, "added-param", (c) => c.form.push(["OptOutType", "STOP"]));
tampered(smsCase, "empty-body", (c) => (c.form = withValue(c.form, "Body", "")));
tampered(smsCase, "other-query", (c) => (c.url = hook + "?tenant=acme"));
tampered(smsQuery, "query-dropped", (c) => (c.url = hook));
tampered(smsQuery, "query-changed", (c) => (c.url = hook + "?tenant=evil&lang=en-US"));
tampered(smsCase, "http-instead-of-https", (c) => (c.url = "http://convo.example.com/sms"));
tampered(smsCase, "other-host", (c) => (c.url = "https://evil.example.com/sms"));
tampered(port8443, "posted-without-port", (c) => (c.url = hook));
tampered(smsCase, "other-auth-token", (c) => {
  c.signature = webhooks.getExpectedTwilioSignature(otherToken, c.signedUrl, params(c.form));
});
tampered(smsCase, "not-base64", (c) => (c.signature = "not base64!"));
tampered(smsCase, "signature-truncated", (c) => (c.signature = c.signature.slice(0, 20)));
tampered(repeated, "dropped-distinct-value", (c) => {
  const i = c.form.findIndex(([n, v]) => n === "Label" && v === "a");
  c.form.splice(i, 1);
});
tampered(repeated, "changed-repeated-value", (c) => {
  const i = c.form.findIndex(([n, v]) => n === "Tag" && v === "alpha");
  c.form[i][1] = "beta";
});
tampered(repeated, "repeated-made-single", (c) => (c.form = c.form.filter(([n, v]) => !(n === "Tag" && v === "zeta"))));
tampered(repeatedDup, "added-new-value", (c) => c.form.push(["Dup", "y"]));
tampered(repeatedUnicode, "dropped-supplementary-value", (c) => (c.form = c.form.filter(([, v]) => v !== "\u{1F600}")));
tampered(unicode, "swapped-values", (c) => {
  const a = c.form.findIndex(([n]) => n === "K\uFF21");
  const b = c.form.findIndex(([n]) => n === "K\u{1F600}");
  [c.form[a][1], c.form[b][1]] = [c.form[b][1], c.form[a][1]];
});
tampered(shared256, "signed-sha256-claimed-sha1", (c) => (c.settings = settings1));
tampered(shared1, "signed-sha1-claimed-sha256", (c) => (c.settings = settings256));
tampered(shared256, "unknown-algorithm", (c) => (c.settings = `key=${sharedKeyID},algorithm=HMAC_MD5`));
tampered(shared1, "unknown-algorithm-sha1-signature", (c) => (c.settings = `key=${sharedKeyID},algorithm=HMAC_SHA512`));
tampered(shared256, "signed-with-auth-token", (c) => {
  c.signature = webhooks.getExpectedTwilioSignature(authToken, c.signedUrl, params(c.form), "HMAC_SHA256");
});

// Changes Node's algorithm cannot see, so Node (and Twilio) accept them.
tampered(repeatedDup, "duplicate-dropped", (c) => c.form.splice(c.form.findIndex(([n]) => n === "Dup"), 1), true);
tampered(repeated, "exact-duplicate-added", (c) => c.form.push(["Tag", "zeta"]), true);
tampered(smsCase, "pairs-reordered", (c) => c.form.reverse(), true);
tampered(repeated, "repeated-values-reordered", (c) => {
  const tags = c.form.filter(([n]) => n === "Tag").reverse();
  c.form = c.form.filter(([n]) => n !== "Tag").concat(tags);
}, true);
tampered(smsCase, "name-value-boundary-moved", (c) => {
  // Name and value are concatenated without a separator: Body=Hi… and
  // Bod=yHi… sign the same text.
  c.form = c.form.map(([n, v]) => (n === "Body" ? ["Bod", "y" + v] : [n, v]));
}, true);

// Valid for Node only through its re-encoded URL fallbacks.
signed({
  kind: "node-normalized-url",
  name: "normalized/apostrophe-signed-escaped",
  url: hook + "?name=O'hara",
  signedUrl: hook + "?name=O%27hara",
  form: sms,
});
signed({
  kind: "node-normalized-url",
  name: "normalized/upper-case-host",
  url: "https://CONVO.Example.com/sms",
  signedUrl: hook,
  form: sms,
});
for (const c of cases.filter((c) => c.kind === "node-normalized-url")) {
  if (webhooks.getExpectedTwilioSignature(c.secret, c.url, params(c.form)) === c.signature) {
    throw new Error(c.name + " is valid for the URL as received");
  }
}

// getSignatureAlgorithm on settings headers.
const algorithms = [
  settings256,
  settings1,
  `algorithm=HMAC_SHA256,key=${sharedKeyID}`,
  ` key = ${sharedKeyID} , algorithm = HMAC_SHA256 `,
  `key=${sharedKeyID},algorithm=hmac_sha256`,
  `key=${sharedKeyID},algorithm=Hmac_Sha1`,
  `key=${sharedKeyID}`,
  `key=${sharedKeyID},algorithm=`,
  `key=${sharedKeyID},algorithm=HMAC_MD5`,
  `key=${sharedKeyID},algorithm=HMAC_SHA512`,
  `key=${sharedKeyID},Algorithm=HMAC_SHA256`,
  `key=${sharedKeyID},algorithm=HMAC_SHA256,algorithm=HMAC_SHA1`,
  `key=${sharedKeyID},algorithm=,algorithm=HMAC_SHA256`,
  `key=${sharedKeyID};algorithm=HMAC_SHA256`,
].map((header) => {
  const algorithm = webhooks.getSignatureAlgorithm(header);
  let supported = true;
  try {
    webhooks.getExpectedTwilioSignature(sharedSecret, hook, {}, algorithm);
  } catch (e) {
    supported = false;
  }
  return { header, algorithm, supported };
});

// Output: one field a line, one form pair a line, ASCII only.
const json = (v) => JSON.stringify(v).replace(/[\u007f-\uffff]/g, (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"));
const lines = [];
lines.push("{");
lines.push(` "generator": ${json(`twilio-node ${twilioVersion} lib/webhooks/webhooks.js, testdata/signatures/generate.js`)},`);
lines.push(' "cases": [');
cases.forEach((c, i) => {
  const fields = Object.entries(c).map(([k, v]) => {
    if (k !== "form") return `   ${json(k)}: ${json(v)}`;
    if (v.length === 0) return `   "form": []`;
    return `   "form": [\n${v.map((p) => "    " + json(p)).join(",\n")}\n   ]`;
  });
  lines.push("  {\n" + fields.join(",\n") + "\n  }" + (i < cases.length - 1 ? "," : ""));
});
lines.push(" ],");
lines.push(' "algorithms": [');
lines.push(algorithms.map((a) => "  " + json(a)).join(",\n"));
lines.push(" ]");
lines.push("}");
process.stdout.write(lines.join("\n") + "\n");

const count = (f) => cases.filter(f).length;
console.error(
  `${cases.length} cases: ${count((c) => c.kind === "auth-token")} auth-token, ${count((c) => c.kind === "shared-key")} shared-key, ` +
    `${count((c) => c.kind === "tampered" && !c.valid)} tampered refused, ${count((c) => c.kind === "tampered" && c.valid)} tampered accepted, ` +
    `${count((c) => c.kind === "node-normalized-url")} node-normalized-url, ${count((c) => c.utf16_order)} utf16_order; ${algorithms.length} algorithm headers`,
);
