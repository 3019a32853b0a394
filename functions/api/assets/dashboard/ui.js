// Shared pieces of the dashboard: the API client, DOM builders, SVG charts and a
// cursor pager. Markup is never parsed from strings: every text goes in as a text node.
export const KEY = "vigil.key";
const SVG = "http://www.w3.org/2000/svg";

/** The calling key's role decides which write buttons exist (the API enforces it too). */
export const session = { role: "viewer", tenant: "", keyId: "" };
const ORDER = ["viewer", "analyst", "approver", "admin"];
export function can(role) {
  return ORDER.indexOf(session.role) >= ORDER.indexOf(role);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
  }
}

/** One call of the public API with the session's key; JSON in, JSON (or null) out. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new ApiError(res.status, (data && data.detail) || res.statusText);
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

export function button(label, onClick, attrs = {}) {
  const b = el("button", { type: "button", ...attrs }, label);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try { await onClick(); } catch (e) { flash(`${label} failed: ${e.message}`, true); } finally { b.disabled = false; }
  });
  return b;
}

/** A status line read out by screen readers; errors are marked by text, not colour only. */
export function flash(message, error = false) {
  const box = document.getElementById("flash");
  box.replaceChildren(el("span", { class: error ? "flash error" : "flash" }, error ? `Error: ${message}` : message));
}

export function fmtTime(t) {
  if (!t) return "";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

/** A coloured badge that also says what it means in words. */
export function badge(value, kind = "sev") {
  const v = String(value ?? "none");
  return el("span", { class: `badge ${kind}-${v.toLowerCase().replace(/[^a-z0-9]+/g, "_")}` }, v.replace(/_/g, " "));
}

export function table(headers, rows, caption) {
  return el("div", { class: "scroll" }, el("table", {},
    caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: headers.length }, "Nothing to show."))]))));
}

export function row(...cells) {
  return el("tr", {}, ...cells.map((c) => (c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c ?? ""))));
}

export function dl(pairs) {
  return el("dl", { class: "facts" }, ...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "—")]));
}

/**
 * Cursor paging: `load(cursor)` draws one page and returns its `next_cursor`; the pager
 * keeps the cursors seen so "Previous" goes back. Never more than one page in the DOM.
 */
export function pager(load, label = "results") {
  const stack = [null];
  const nav = el("nav", { class: "pager", "aria-label": `Pages of ${label}` });
  const prev = el("button", { type: "button" }, "Previous page");
  const next = el("button", { type: "button" }, "Next page");
  const where = el("span", { class: "muted" });
  let nextCursor = null;
  async function show() {
    prev.disabled = next.disabled = true;
    nextCursor = await load(stack[stack.length - 1]);
    prev.disabled = stack.length === 1;
    next.disabled = !nextCursor;
    where.textContent = `Page ${stack.length}`;
  }
  prev.addEventListener("click", () => { stack.pop(); show(); });
  next.addEventListener("click", () => { stack.push(nextCursor); show(); });
  nav.append(prev, where, next);
  return { nav, show, reset: () => { stack.length = 1; return show(); } };
}

function svg(tag, attrs = {}, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

/** Horizontal bars with the value written next to each. */
export function barChart(entries, label) {
  const max = Math.max(1, ...entries.map(([, v]) => v));
  const root = svg("svg", { viewBox: `0 0 360 ${entries.length * 26 + 4}`, role: "img", "aria-label": label, class: "chart" });
  root.append(svg("title", {}, `${label}: ${entries.map(([k, v]) => `${k} ${v}`).join(", ")}`));
  entries.forEach(([name, v], i) => {
    const y = i * 26 + 4;
    root.append(
      svg("text", { x: 0, y: y + 14, class: "axis" }, name),
      svg("rect", { x: 90, y, height: 18, width: Math.max(1, (210 * v) / max), class: `bar bar-${String(name).toLowerCase()}` }),
      svg("text", { x: 96 + (210 * v) / max, y: y + 14, class: "axis" }, String(v)));
  });
  return root;
}

/**
 * A line chart of one or more series over the same x labels. `series`: [{name, values,
 * cls}], `bands`: horizontal reference lines [{y, name, cls}].
 */
export function lineChart(labels, series, { label, bands = [], yMax } = {}) {
  const W = 640, H = 220, L = 48, R = 28, T = 12, B = 36;
  const all = series.flatMap((s) => s.values).concat(bands.map((b) => b.y)).filter((v) => Number.isFinite(v));
  const max = yMax ?? Math.max(1e-9, ...all) * 1.1;
  const x = (i) => L + (labels.length <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (labels.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "chart line" });
  root.append(svg("title", {}, `${label}. ${series.map((s) => `${s.name}: ${s.values.map((v, i) => `${labels[i]} ${fmtNum(v)}`).join(", ")}`).join("; ")}`));
  root.append(svg("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), class: "grid" }));
  for (const f of [0, 0.5, 1]) {
    root.append(svg("text", { x: 2, y: y(max * f) + 4, class: "axis" }, fmtNum(max * f)));
  }
  for (const b of bands) {
    root.append(svg("line", { x1: L, y1: y(b.y), x2: W - R, y2: y(b.y), class: `band ${b.cls || ""}` }),
      svg("text", { x: W - R - 4, y: y(b.y) - 3, class: "axis end" }, `${b.name} ${b.y}`));
  }
  const step = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((l, i) => {
    if (i % step === 0 || i === labels.length - 1) root.append(svg("text", { x: x(i), y: H - 8, class: "axis mid" }, l));
  });
  for (const s of series) {
    const pts = s.values.map((v, i) => (Number.isFinite(v) ? `${x(i)},${y(v)}` : null)).filter(Boolean);
    root.append(svg("polyline", { points: pts.join(" "), class: `series ${s.cls || ""}` }));
    s.values.forEach((v, i) => { if (Number.isFinite(v)) root.append(svg("circle", { cx: x(i), cy: y(v), r: 3, class: `dot ${s.cls || ""}` })); });
  }
  return root;
}

export function legend(series) {
  return el("ul", { class: "legend" }, ...series.map((s) => el("li", {}, el("span", { class: `swatch ${s.cls || ""}`, "aria-hidden": "true" }), s.name)));
}

export function fmtNum(v) {
  if (!Number.isFinite(v)) return "";
  return Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 1000) / 1000);
}
