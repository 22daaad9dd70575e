// The dev phone's page: plain JavaScript over the JSON API of the Go
// server, which does the texting. Everything from the webhook is shown
// with textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { cfg: null, busy: 0 };

// el builds an element with a class and text.
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function pair() {
  return { from: $("from").value.trim(), to: $("to").value.trim() };
}

function setStatus(msg, isError) {
  const s = $("status");
  s.textContent = msg || "";
  s.className = isError ? "error" : "";
}

function setBusy(delta) {
  state.busy += delta;
  document.body.dataset.busy = state.busy > 0 ? "true" : "false";
  for (const b of document.querySelectorAll("button")) b.disabled = state.busy > 0;
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    throw new Error((data && data.error) || ("HTTP " + res.status));
  }
  return data;
}

// act runs one POST of the API and shows the thread it answers.
async function act(path, body) {
  setBusy(1);
  try {
    const t = await api("POST", path, body);
    if (t && t.entries) showThread(t);
    setStatus("");
    await loadPairs();
    return true;
  } catch (e) {
    setStatus(e.message, true);
    return false;
  } finally {
    setBusy(-1);
  }
}

function fmtTime(iso) {
  const d = new Date(iso);
  return d.toLocaleString(undefined, {
    weekday: "short", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short",
  });
}

function isImage(url) {
  return /\.(jpe?g|png|gif|webp)(\?|#|$)/i.test(url);
}

function mediaList(urls) {
  const box = el("div", "media");
  for (const u of urls) {
    const a = el("a", "", "");
    a.href = u;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    if (isImage(u)) {
      const img = el("img");
      img.src = u;
      img.alt = u;
      img.loading = "lazy";
      img.onerror = () => { img.remove(); a.textContent = "media: " + u; };
      a.appendChild(img);
    } else {
      a.textContent = "media: " + u;
    }
    box.appendChild(a);
  }
  return box;
}

function renderEntry(e) {
  const frag = document.createDocumentFragment();
  if (e.kind === "clock") {
    frag.appendChild(el("div", "note", e.note));
    return frag;
  }
  const out = el("div", "msg out" + (e.kind === "retry" ? " retry" : ""));
  out.dataset.kind = e.kind;
  if (e.kind === "retry") out.appendChild(el("div", "tag", "Twilio's retry, same MessageSid"));
  if (e.burst) out.appendChild(el("div", "tag", "burst " + e.burst));
  if (e.body) out.appendChild(el("div", "text", e.body));
  if (e.media && e.media.length) out.appendChild(mediaList(e.media));
  const meta = [fmtTime(e.at)];
  if (e.messageSid) meta.push(e.messageSid);
  if (e.status) meta.push("HTTP " + e.status);
  if (e.ms !== undefined) meta.push(e.ms + " ms");
  out.appendChild(el("div", "meta", meta.join(" · ")));
  frag.appendChild(out);

  if (e.error) {
    frag.appendChild(el("div", "msg in error", e.error));
    return frag;
  }
  for (const r of e.replies || []) {
    const m = el("div", "msg in reply");
    const media = r.media || [];
    if (r.body || !media.length) m.appendChild(el("div", "text", r.body));
    if (media.length) m.appendChild(mediaList(media));
    const attrs = [];
    for (const k of ["to", "from", "action", "method", "statusCallback"]) {
      if (r[k]) attrs.push(k + "=\"" + r[k] + "\"");
    }
    if (attrs.length) m.appendChild(el("div", "meta", "<Message " + attrs.join(" ") + ">"));
    frag.appendChild(m);
  }
  if (e.redirect) {
    const method = e.redirect.method || "POST";
    frag.appendChild(el("div", "msg in redirect",
      "Redirect: Twilio would " + method + " " + e.redirect.url + " for more TwiML (the dev phone does not follow it)"));
  }
  if (!(e.replies && e.replies.length) && !e.redirect) {
    frag.appendChild(el("div", "msg in empty", "(no reply: an empty <Response/>)"));
  }
  return frag;
}

function showThread(t) {
  const cur = pair();
  if (t.from !== cur.from || t.to !== cur.to) return; // the user moved on
  $("clock").textContent = fmtTime(t.now);
  $("clock").dateTime = t.now;
  const box = $("thread");
  box.replaceChildren();
  if (!t.entries.length) {
    box.appendChild(el("p", "hint", "No messages between " + t.from + " and " + t.to + " yet."));
  }
  for (const e of t.entries) box.appendChild(renderEntry(e));
  box.scrollTop = box.scrollHeight;
  showCookies(t);
}

function showCookies(t) {
  const box = $("cookies");
  box.replaceChildren();
  const limit = (state.cfg && state.cfg.cookieLimit) || 4096;
  if (!t.cookies.length) {
    box.appendChild(el("p", "hint", "No cookie held for this pair."));
  }
  for (const c of t.cookies) {
    const card = el("div", "cookie");
    card.appendChild(el("div", "name", c.name));
    card.appendChild(el("code", "value", c.value + (c.truncated ? "…" : "")));
    const size = c.lineBytes || c.bytes;
    const bar = el("div", "bar");
    const fill = el("div", "fill" + (size > limit ? " over" : size > limit * 0.8 ? " near" : ""));
    fill.style.width = Math.min(100, (100 * size) / limit).toFixed(1) + "%";
    bar.appendChild(fill);
    card.appendChild(bar);
    card.appendChild(el("div", "size", size + " of " + limit + " bytes" +
      (c.lineBytes ? " (Set-Cookie line); " + c.bytes + " sent back as name=value" : " (name=value)")));
    card.appendChild(el("div", "expiry", "expires " + fmtTime(c.expiresAt) + ", in " + c.expiresIn));
    box.appendChild(card);
  }
  for (const name of t.gone || []) {
    box.appendChild(el("p", "gone", "Cookie " + name + " has expired or was deleted: Twilio no longer sends it."));
  }
}

async function loadThread() {
  const p = pair();
  if (!p.from || !p.to) return;
  try {
    const q = new URLSearchParams(p);
    showThread(await api("GET", "/api/thread?" + q));
  } catch (e) {
    setStatus(e.message, true);
  }
}

async function loadPairs() {
  const list = await api("GET", "/api/pairs");
  const ul = $("pairs");
  ul.replaceChildren();
  if (!list.length) ul.appendChild(el("li", "hint", "No messages yet."));
  const cur = pair();
  for (const p of list) {
    const li = el("li");
    const b = el("button", "pair" + (p.from === cur.from && p.to === cur.to ? " current" : ""), p.label);
    b.type = "button";
    b.appendChild(el("span", "count", String(p.sent)));
    b.onclick = () => { $("from").value = p.from; $("to").value = p.to; loadThread(); loadPairs(); };
    li.appendChild(b);
    ul.appendChild(li);
  }
}

async function send() {
  if (state.busy > 0) return; // Enter pressed while the last message is on its way
  const media = $("media").value.split(/[\s,]+/).filter(Boolean);
  const ok = await act("/api/send", { ...pair(), body: $("body").value, media });
  if (ok) { $("body").value = ""; $("media").value = ""; $("body").focus(); }
}

async function init() {
  state.cfg = await api("GET", "/api/config");
  $("webhook").textContent = state.cfg.webhook;
  $("signed").textContent = state.cfg.signed ? "signed" : "unsigned";
  $("signed").className = "badge " + (state.cfg.signed ? "ok" : "warn");
  $("signed").title = state.cfg.signed ? "X-Twilio-Signature with TWILIO_AUTH_TOKEN" : "set TWILIO_AUTH_TOKEN to sign the requests";
  $("clock").textContent = fmtTime(state.cfg.now);
  $("burst-n").max = state.cfg.maxBurst;
  const dl = $("preset-list"), btns = $("presets");
  for (const p of state.cfg.presets) {
    const o = el("option", "", p.name);
    o.value = p.number;
    dl.appendChild(o);
    const b = el("button", "preset", p.name);
    b.type = "button";
    b.title = p.number;
    b.onclick = () => { $("from").value = p.number; loadThread(); loadPairs(); };
    btns.appendChild(b);
  }
  $("from").value = state.cfg.presets[0].number;
  $("to").value = state.cfg.defaultTo;

  $("from").addEventListener("change", () => { loadThread(); loadPairs(); });
  $("to").addEventListener("change", () => { loadThread(); loadPairs(); });
  $("pair-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadThread(); });
  $("compose").addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
  $("body").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(); }
  });
  $("retry").onclick = () => act("/api/retry", pair());
  $("burst").onclick = () => act("/api/burst", { ...pair(), body: $("body").value, n: Number($("burst-n").value) });
  for (const b of document.querySelectorAll("[data-jump]")) {
    b.onclick = () => {
      const p = pair(); // the thread to show after the jump, when one is chosen
      act("/api/clock", p.from && p.to ? { ...p, advance: b.dataset.jump } : { advance: b.dataset.jump });
    };
  }
  await loadThread();
  await loadPairs();
  document.body.dataset.ready = "true";
}

init().catch((e) => setStatus("The dev phone could not start: " + e.message, true));
