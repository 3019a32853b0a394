// Vigil dashboard: framework-free ES module; every number comes from the public API,
// the key lives in sessionStorage only and travels as `Authorization: Bearer`.
const KEY = "vigil.key";
const view = document.getElementById("view");
const nav = document.getElementById("nav");
const form = document.getElementById("signin");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

async function api(path) {
  const res = await fetch(path, {
    headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` },
  });
  if (!res.ok) throw new Error(`${res.status} ${path}`);
  return res.json();
}

function card(label, value) {
  return el("div", { class: "card" }, el("div", {}, label), el("div", { class: "value", "data-card": label }, value));
}

function bars(counts) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const entries = Object.entries(counts);
  const max = Math.max(1, ...entries.map(([, v]) => v));
  svg.setAttribute("viewBox", `0 0 300 ${entries.length * 24}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Findings by severity");
  entries.forEach(([name, v], i) => {
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", "80"); r.setAttribute("y", String(i * 24 + 4));
    r.setAttribute("height", "16"); r.setAttribute("width", String((200 * v) / max));
    r.setAttribute("class", "bar");
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", "0"); t.setAttribute("y", String(i * 24 + 17));
    t.textContent = `${name} ${v}`;
    svg.append(r, t);
  });
  return svg;
}

async function overview() {
  const s = await api("/stats/summary");
  const sev = s.findings_by_severity || {};
  const day = (s.events_over_time || []).at(-1);
  view.replaceChildren(
    el("h2", {}, "Overview"),
    el("div", { class: "cards" },
      card("Total events", s.total_events),
      card("Total findings", s.total_findings),
      card("Critical + high", (sev.critical || 0) + (sev.high || 0)),
      card("Events (latest day)", day ? day.count : 0)),
    el("h3", {}, "Findings by severity"), bars(sev),
    el("h3", {}, "Top rules"),
    el("ul", {}, ...(s.open_findings_by_rule || []).map((r) => el("li", {}, `${r.name ?? r.key ?? r.id}: ${r.count}`))),
  );
}

async function findings(cursor = null, severity = "") {
  const q = new URLSearchParams({ limit: "20" });
  if (severity) q.set("severity", severity);
  if (cursor) q.set("cursor", cursor);
  const page = await api(`/findings?${q}`);
  const select = el("select", { id: "severity" });
  for (const s of ["", "low", "medium", "high", "critical"]) {
    const o = el("option", { value: s }, s || "any severity");
    if (s === severity) o.selected = true;
    select.append(o);
  }
  select.addEventListener("change", () => findings(null, select.value));
  const rows = page.items.map((f) => el("tr", {},
    el("td", {}, el("span", { class: `badge sev-${f.severity}` }, f.severity)),
    el("td", {}, f.rule_id ?? ""), el("td", {}, f.user ?? ""),
    el("td", { class: "hide-narrow" }, f.status ?? ""), el("td", { class: "hide-narrow" }, f.risk_score ?? "")));
  const next = el("button", { type: "button" }, "Next page");
  next.disabled = !page.next_cursor;
  next.addEventListener("click", () => findings(page.next_cursor, severity));
  view.replaceChildren(
    el("h2", {}, "Findings"),
    el("div", { class: "filters" }, el("label", { for: "severity" }, "Severity"), select),
    el("table", {}, el("thead", {}, el("tr", {}, ...["Severity", "Rule", "User", "Status", "Risk"].map((h, i) =>
      el("th", i > 2 ? { class: "hide-narrow" } : {}, h)))), el("tbody", {}, ...rows)),
    next,
  );
}

async function route() {
  if (!sessionStorage.getItem(KEY)) { form.hidden = false; nav.hidden = true; view.hidden = true; return; }
  form.hidden = true; nav.hidden = false; view.hidden = false;
  try {
    if (location.hash === "#findings") await findings(); else await overview();
  } catch (e) {
    view.replaceChildren(el("p", { role: "alert" }, `Could not load: ${e.message}`));
  }
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, document.getElementById("key").value);
  try { await api("/stats/summary"); route(); } catch {
    sessionStorage.removeItem(KEY);
    document.getElementById("signin-error").textContent = "That key was refused.";
  }
});
document.getElementById("signout").addEventListener("click", () => { sessionStorage.removeItem(KEY); route(); });
window.addEventListener("hashchange", route);
setInterval(() => { if (location.hash !== "#findings" && sessionStorage.getItem(KEY)) route(); }, 30000);
route();
