// Vigil dashboard: framework-free ES modules; every number comes from the public API,
// the key lives in sessionStorage only and travels as `Authorization: Bearer`.
import { KEY, api, el, session } from "./ui.js";
import * as pages from "./pages.js";

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const form = document.getElementById("signin");

const ROUTES = {
  overview: pages.overview,
  findings: pages.findings,
  finding: pages.finding,
  "ai-systems": pages.aiSystems,
  "ai-system": pages.aiSystem,
  models: pages.models,
  model: pages.model,
  governance: pages.governance,
  audit: pages.audit,
  webhooks: pages.webhooks,
  webhook: pages.webhook,
};

function current() {
  const [name, ...rest] = location.hash.replace(/^#/, "").split("/");
  return { name: ROUTES[name] ? name : "overview", arg: rest.length ? decodeURIComponent(rest.join("/")) : undefined };
}

async function whoami() {
  const me = await api("/whoami");
  Object.assign(session, { role: me.role, tenant: me.tenant, keyId: me.key_id });
  document.getElementById("who").textContent = `${me.tenant} · ${me.role}`;
}

let drawing = 0;
async function route() {
  if (!sessionStorage.getItem(KEY)) { form.hidden = false; nav.hidden = true; view.hidden = true; return; }
  form.hidden = true; nav.hidden = false; view.hidden = false;
  const { name, arg } = current();
  for (const a of nav.querySelectorAll("a")) {
    const on = a.getAttribute("href") === `#${name}` || a.getAttribute("href") === `#${name}s`;
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const mine = ++drawing;
  view.setAttribute("aria-busy", "true");
  view.dataset.page = name;
  try {
    if (!session.tenant) await whoami();
    await ROUTES[name](view, arg);
  } catch (e) {
    if (mine === drawing) view.replaceChildren(el("p", { role: "alert", class: "bad" }, `Could not load: ${e.message}`));
    if (e.status === 401) { sessionStorage.removeItem(KEY); session.tenant = ""; route(); }
  } finally {
    if (mine === drawing) { view.setAttribute("aria-busy", "false"); view.dataset.loaded = name; }
  }
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, document.getElementById("key").value);
  document.getElementById("key").value = "";
  try { await whoami(); route(); } catch {
    sessionStorage.removeItem(KEY);
    document.getElementById("signin-error").textContent = "That key was refused.";
  }
});
document.getElementById("signout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  session.tenant = "";
  session.role = "viewer";
  route();
});
window.addEventListener("hashchange", () => { document.getElementById("flash").replaceChildren(); route(); });
// The overview refreshes by itself; other pages keep their place (filters, page).
setInterval(() => { if (current().name === "overview" && sessionStorage.getItem(KEY) && !document.hidden) route(); }, 30000);
route();
