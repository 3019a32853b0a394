// The dashboard's pages. Each draws into `view` from the public API only; write
// buttons exist only when the signed-in key's role may use them.
import {
  api, el, button, flash, fmtTime, badge, table, row, dl, pager, barChart, lineChart, legend, can, fmtNum,
} from "./ui.js";

const SEVERITIES = ["critical", "high", "medium", "low"];
const enc = encodeURIComponent;

function select(id, options, value) {
  const s = el("select", { id, name: id });
  for (const [v, label] of options) {
    const o = el("option", { value: v }, label);
    if (v === value) o.selected = true;
    s.append(o);
  }
  return s;
}
function field(label, control) {
  return el("div", { class: "field" }, el("label", { for: control.id }, label), control);
}
function link(href, text) {
  return el("a", { href }, text);
}

// ------------------------------------------------------------------ overview

export async function overview(view) {
  const s = await api("/stats/summary");
  const sev = s.findings_by_severity || {};
  const days = s.events_over_time || [];
  const open = s.open_findings_by_severity || {};
  const card = (label, value, id) => el("div", { class: "card" }, el("div", { class: "label" }, label),
    el("div", { class: "value", "data-card": id }, String(value)));
  const ranked = (items) => items.length
    ? el("ol", { class: "ranked" }, ...items.map((r) => el("li", {}, el("span", {}, r.key), el("span", { class: "count" }, String(r.count)))))
    : el("p", { class: "muted" }, "None yet.");
  view.replaceChildren(
    el("h2", {}, "Overview"),
    el("div", { class: "cards" },
      card("Total events", s.total_events, "total_events"),
      card("Total findings", s.total_findings, "total_findings"),
      card("Open critical + high", (open.critical || 0) + (open.high || 0), "open_critical_high"),
      card("Events in the last 24 h", s.events_last_24h ?? 0, "events_24h")),
    el("div", { class: "grid2" },
      el("section", {}, el("h3", {}, "Findings by severity"),
        barChart(SEVERITIES.map((k) => [k, sev[k] || 0]), "Findings by severity")),
      el("section", {}, el("h3", {}, "Events per day"),
        lineChart(days.map((d) => d.date.slice(5)), [{ name: "events", values: days.map((d) => d.count), cls: "s0" }],
          { label: "Events per day" }))),
    el("div", { class: "grid3" },
      el("section", {}, el("h3", {}, "Top rules (open findings)"), ranked(s.open_findings_by_rule || [])),
      el("section", {}, el("h3", {}, "Top users by findings"), ranked(s.top_users_by_findings || [])),
      el("section", {}, el("h3", {}, "Top users by events"), ranked(s.top_users_by_events || []))),
    el("p", { class: "muted" }, `Refreshes every 30 s. Updated ${fmtTime(new Date())}.`),
  );
}

// ------------------------------------------------------------------ findings

const findingFilters = { severity: "", rule_id: "", status: "", user: "", from_date: "", to_date: "" };

function enrichedBy(f) {
  if (!f.enriched_by) return "not enriched";
  if (f.enriched_by === "heuristic") return "heuristic";
  const parts = [f.enriched_by, f.model && `model ${f.model}${f.model_version ? ` ${f.model_version}` : ""}`,
    f.prompt_version && `prompt ${f.prompt_version}`];
  return parts.filter(Boolean).join(", ");
}

export async function findings(view) {
  const stats = await api("/stats/summary");
  const rules = (stats.open_findings_by_rule || []).map((r) => r.key);
  const f = findingFilters;
  const sev = select("f-severity", [["", "Any severity"], ...SEVERITIES.map((s) => [s, s])], f.severity);
  const rule = select("f-rule", [["", "Any rule"], ...rules.map((r) => [r, r])], f.rule_id);
  const status = select("f-status", [["", "Any status"], ["open", "open"], ["acknowledged", "acknowledged"], ["resolved", "resolved"]], f.status);
  const user = el("input", { id: "f-user", type: "text", value: f.user, placeholder: "user@example.com" });
  const from = el("input", { id: "f-from", type: "date", value: f.from_date });
  const to = el("input", { id: "f-to", type: "date", value: f.to_date });
  const body = el("div", { class: "findings-list" });
  const page = pager(async (cursor) => {
    const q = new URLSearchParams({ limit: "20" });
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    if (cursor) q.set("cursor", cursor);
    const p = await api(`/findings?${q}`);
    body.replaceChildren(table(["Severity", "Title", "Rule", "User", "Status", "Risk", "AI", "First seen"],
      p.items.map((x) => row(
        badge(x.severity), link(`#finding/${enc(x.id)}`, x.title || x.id), x.rule_id, x.user ?? x.subject ?? "",
        badge(x.status, "st"), x.risk_score == null ? "—" : String(Math.round(x.risk_score)),
        x.enriched_by ? el("span", { class: "tag" }, `Enriched (${x.enriched_by})`) : "Not enriched",
        fmtTime(x.first_seen))), "Findings"));
    return p.next_cursor;
  }, "findings");
  const apply = el("form", { class: "filters", id: "finding-filters" },
    field("Severity", sev), field("Rule", rule), field("Status", status), field("User", user),
    field("From", from), field("To", to), el("button", { type: "submit" }, "Apply filters"));
  apply.addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(f, { severity: sev.value, rule_id: rule.value, status: status.value, user: user.value.trim(),
      from_date: from.value, to_date: to.value });
    page.reset();
  });
  sev.addEventListener("change", () => apply.requestSubmit());
  const actions = el("div", { class: "actions" });
  if (can("analyst")) {
    actions.append(button("Enrich all missing", async () => {
      const r = await api("/findings/enrich_all_missing", { method: "POST" });
      flash(`Enriched ${Array.isArray(r) ? r.length : 0} findings.`);
      await page.show();
    }, { id: "enrich-all" }));
  }
  view.replaceChildren(el("h2", {}, "Findings"), apply, actions, body, page.nav);
  await page.show();
}

export async function finding(view, id) {
  const f = await api(`/findings/${enc(id)}`);
  const evidence = await Promise.all((f.event_ids || []).slice(0, 10).map((e) =>
    api(`/events/${enc(e)}`).catch(() => ({ id: e, missing: true }))));
  const risk = f.risk_score == null ? "not scored" : `${Math.round(f.risk_score)} / 100`;
  const parts = [
    el("p", {}, link("#findings", "← Back to findings")),
    el("h2", {}, f.title || f.id),
    dl([
      ["Severity", badge(f.severity)], ["Status", badge(f.status, "st")], ["Risk score", el("span", { id: "risk" }, risk)],
      ["Rule", `${f.rule_name || ""} (${f.rule_id})`], ["User", f.user ?? f.subject ?? "—"],
      ["Enriched by", el("span", { id: "enriched-by" }, enrichedBy(f))],
      ["First seen", fmtTime(f.first_seen)], ["Last seen", fmtTime(f.last_seen)], ["Note", f.note || "—"],
    ]),
    el("h3", {}, "Description"), el("p", {}, f.description || "—"),
    el("h3", {}, "Explanation"), el("p", { id: "explanation" }, f.ai_explanation || "Not enriched yet."),
  ];
  if (can("analyst")) {
    const status = select("t-status", [["open", "open"], ["acknowledged", "acknowledged"], ["resolved", "resolved"]], f.status);
    const note = el("textarea", { id: "t-note", rows: 2, maxlength: 4000 }, f.note || "");
    const form = el("form", { class: "filters", id: "triage" }, field("Status", status), field("Note", note),
      el("button", { type: "submit" }, "Save triage"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await api(`/findings/${enc(id)}`, { method: "PATCH", body: { status: status.value, note: note.value || null } });
        flash(`Finding ${id} is ${status.value}.`);
        await finding(view, id);
      } catch (err) { flash(`Triage failed: ${err.message}`, true); }
    });
    parts.push(el("h3", {}, "Triage"), form,
      el("div", { class: "actions" }, button("Enrich with AI", async () => {
        await api(`/findings/${enc(id)}/enrich_with_ai`, { method: "POST" });
        flash(`Finding ${id} enriched.`);
        await finding(view, id);
      }, { id: "enrich-one" })));
  }
  parts.push(el("h3", {}, `Evidence events (${f.evidence_count ?? evidence.length}${f.evidence_truncated ? ", truncated" : ""})`),
    table(["Time", "Type", "User", "Source", "Details"], evidence.map((e) => e.missing
      ? row("—", "not stored", "", "", e.id)
      : row(fmtTime(e.timestamp), e.event_type, e.user ?? "", e.source ?? "",
        el("code", {}, JSON.stringify(e.raw_data ?? e.data ?? {}).slice(0, 200)))), "Evidence"));
  view.replaceChildren(...parts);
}

// ------------------------------------------------------------------ AI systems

export async function aiSystems(view) {
  const body = el("div", {});
  const level = select("s-level", [["", "Any risk level"], ...["unacceptable", "high", "limited", "minimal"].map((l) => [l, l])], "");
  const page = pager(async (cursor) => {
    const q = new URLSearchParams({ limit: "20" });
    if (level.value) q.set("risk_level", level.value);
    if (cursor) q.set("cursor", cursor);
    const p = await api(`/ai-systems?${q}`);
    body.replaceChildren(table(["Name", "Risk level", "Article 50 duties", "Status", "Monitoring", "Owner"],
      p.items.map((s) => {
        const c = s.classification || {};
        return row(link(`#ai-system/${enc(s.id)}`, s.name), badge(c.level ?? "unclassified", "risk"),
          (c.article50_duties || []).map((d) => d.citation?.reference || d.id).join(", ") || "none",
          badge(c.status ?? "unclassified", "st"), s.monitoring?.monitoring_enabled ? "on" : "off", s.owner || "");
      }), "AI systems"));
    return p.next_cursor;
  }, "AI systems");
  level.addEventListener("change", () => page.reset());
  const notes = el("section", {}, el("h3", {}, "Notifications"));
  view.replaceChildren(el("h2", {}, "AI systems"), el("div", { class: "filters" }, field("Risk level", level)), body, page.nav, notes);
  await page.show();
  const n = await api("/notifications?limit=10");
  notes.append(table(["When", "Title", "Details", "Read"], n.items.map((x) =>
    row(fmtTime(x.created_at), x.title, x.body, x.read ? "read" : "unread")), "Notifications"));
  if (n.items.some((x) => !x.read)) {
    notes.append(button("Mark all read", async () => {
      await api("/notifications/read-all", { method: "POST" });
      flash("Notifications marked read.");
      await aiSystems(view);
    }, { id: "read-all" }));
  }
}

export async function aiSystem(view, id) {
  const s = await api(`/ai-systems/${enc(id)}`);
  const c = s.classification || {};
  const drift = await api(`/ai-systems/${enc(id)}/drift-events?limit=20`);
  const cite = (x) => x?.reference || "";
  view.replaceChildren(
    el("p", {}, link("#ai-systems", "← Back to AI systems")),
    el("h2", {}, s.name),
    dl([["Risk level", badge(c.level ?? "unclassified", "risk")], ["Status", badge(c.status ?? "unclassified", "st")],
      ["Confidence", c.confidence], ["Classifier", c.classifier_version], ["As of", c.as_of],
      ["Purpose", s.purpose], ["Owner", s.owner], ["Monitoring", s.monitoring?.monitoring_enabled ? "on" : "off"]]),
    el("h3", {}, "Reasons"),
    table(["Kind", "Reason", "Citation"], (c.reasons || []).map((r) => row(r.kind, r.summary, cite(r.citation))), "Reasons"),
    el("h3", {}, "Article 50 duties"),
    table(["Duty", "Addressee", "Applies from", "Citation"], (c.article50_duties || []).map((d) =>
      row(d.summary || d.title, d.addressee, d.applies_from, cite(d.citation))), "Article 50 duties"),
    el("h3", {}, `Obligations (${(c.obligations || []).length})`),
    el("details", {}, el("summary", {}, "Show obligations"),
      table(["Obligation", "Addressee", "Citation"], (c.obligations || []).map((o) => row(o.title, o.addressee, cite(o.citation))), "Obligations")),
    el("h3", {}, "Drift events"),
    table(["Detected", "Type", "Before", "After"], drift.items.map((d) => row(fmtTime(d.detected_at), d.drift_type,
      `${d.before.risk_level}, ${d.before.status}, ${d.before.classifier_version}`,
      `${d.after.risk_level}, ${d.after.status}, ${d.after.classifier_version}`)), "Drift events"),
  );
}

// ------------------------------------------------------------------ models (drift)

export async function models(view) {
  const p = await api("/models?limit=50");
  view.replaceChildren(el("h2", {}, "Models"),
    table(["Model", "Version", "Features", "Schedule", "PSI warning / critical", "Enabled"], p.items.map((m) => row(
      link(`#model/${enc(m.model_id)}`, m.model_id), m.model_version, m.features.map((x) => x.name).join(", "),
      m.schedule_interval || m.schedule_cron || "", `${m.thresholds.psi_warning} / ${m.thresholds.psi_critical}`,
      m.enabled ? "yes" : "no")), "Monitored models"));
}

export async function model(view, id) {
  const m = await api(`/models/${enc(id)}`);
  const checks = (await api(`/models/${enc(id)}/checks?limit=48`)).items.slice().reverse();
  const ok = checks.filter((c) => c.metrics && c.metrics.features);
  const labels = ok.map((c) => fmtTime(c.timestamp).slice(11, 16));
  const names = m.features.map((f) => f.name);
  const series = names.map((n, i) => ({ name: n, cls: `s${i % 6}`, values: ok.map((c) => c.metrics.features[n]?.psi ?? NaN) }));
  const bands = [{ y: m.thresholds.psi_warning, name: "warning", cls: "warn" }, { y: m.thresholds.psi_critical, name: "critical", cls: "crit" }];
  const latest = ok[ok.length - 1];
  view.replaceChildren(
    el("p", {}, link("#models", "← Back to models")),
    el("h2", {}, `${m.model_id} ${m.model_version}`),
    el("h3", {}, "PSI per feature over time"),
    lineChart(labels, series, { label: `PSI per feature of ${m.model_id}`, bands }), legend(series),
    el("p", { class: "muted" }, `Bands: below ${m.thresholds.psi_warning} normal, from ${m.thresholds.psi_warning} warning, from ${m.thresholds.psi_critical} critical.`),
    el("h3", {}, "Latest check per feature"),
    table(["Feature", "PSI", "Band", "Reason"], latest ? names.map((n) => {
      const x = latest.metrics.features[n] || {};
      return row(n, fmtNum(x.psi), badge(x.band ?? "n/a", "band"), x.reason || "");
    }) : [], "Latest check"),
    el("h3", {}, "Checks"),
    table(["Time", "Status", "Alert", "Trigger", ...names], checks.slice().reverse().map((c) => row(fmtTime(c.timestamp), c.status,
      badge(c.alert_level ?? "none", "band"), c.trigger, ...names.map((n) => {
        const x = c.metrics?.features?.[n];
        return x ? `${fmtNum(x.psi)} (${String(x.band).toLowerCase()})` : "—";
      }))), "Checks"),
  );
}

// ------------------------------------------------------------------ governance

export async function governance(view) {
  const sections = [];
  for (const [kind, label] of [["models", "Model versions"], ["prompts", "Prompt versions"]]) {
    const pending = await api(`/governance/${kind}?state=pending_approval&limit=50`);
    const rest = await api(`/governance/${kind}?limit=20`);
    const rows = pending.items.map((v) => {
      const acts = el("div", { class: "actions" });
      if (can("approver")) {
        acts.append(
          button("Approve", async () => {
            await api(`/governance/${kind}/${enc(v.id)}/approve`, { method: "POST" });
            flash(`${v.name} ${v.version} approved.`);
            await governance(view);
          }, { "aria-label": `Approve ${v.name} ${v.version}` }),
          button("Reject", async () => {
            const reason = window.prompt(`Why reject ${v.name} ${v.version}?`);
            if (!reason) return;
            await api(`/governance/${kind}/${enc(v.id)}/reject`, { method: "POST", body: { reason } });
            flash(`${v.name} ${v.version} rejected.`);
            await governance(view);
          }, { "aria-label": `Reject ${v.name} ${v.version}` }));
      } else {
        acts.append("approver role needed");
      }
      return row(v.name, v.version, v.provider ?? v.purpose, v.submitted_by ?? v.created_by, fmtTime(v.created_at), el("td", {}, acts));
    });
    sections.push(el("h3", {}, `${label} pending approval`),
      table(["Name", "Version", kind === "models" ? "Provider" : "Purpose", "Submitted by", "Registered", "Decision"], rows, `${label} pending`),
      el("h3", {}, `All ${label.toLowerCase()}`),
      table(["Name", "Version", "State", "Registered by"], rest.items.map((v) =>
        row(v.name, v.version, badge(v.state, "st"), v.created_by)), label));
  }
  sections.push(...await riskDecisions(view));
  view.replaceChildren(el("h2", {}, "Governance"), ...sections);
}

/** Risk and compliance requests: those waiting for an approver, then the latest. */
async function riskDecisions(view) {
  const waiting = await api("/risk?status=REQUIRES_APPROVAL&limit=50");
  const latest = await api("/risk?limit=20");
  const reasons = (d) => (d.steps?.find((s) => s.step === "policy")?.outputs?.refusals ?? []).join(", ").replace(/_/g, " ");
  const rows = waiting.items.map((d) => {
    const acts = el("div", { class: "actions" });
    if (can("approver")) {
      acts.append(
        button("Approve", async () => {
          await api(`/risk/${enc(d.id)}/approve`, { method: "POST" });
          flash(`Request ${d.id} approved.`);
          await governance(view);
        }, { "aria-label": `Approve request ${d.id}` }),
        button("Reject", async () => {
          const reason = window.prompt(`Why reject request ${d.id}?`);
          if (!reason) return;
          await api(`/risk/${enc(d.id)}/reject`, { method: "POST", body: { reason } });
          flash(`Request ${d.id} rejected.`);
          await governance(view);
        }, { "aria-label": `Reject request ${d.id}` }));
    } else {
      acts.append("approver role needed");
    }
    return row(d.id, d.ask.kind, d.ask.ai_system_id, d.ask.purpose, String(d.score ?? "—"), d.requested_by, el("td", {}, acts));
  });
  return [
    el("h3", {}, "Risk and compliance requests awaiting approval"),
    table(["Request", "Kind", "AI system", "Purpose", "Score", "Requested by", "Decision"], rows, "Requests awaiting approval"),
    el("h3", {}, "Latest risk and compliance requests"),
    table(["Request", "Kind", "AI system", "Status", "Score", "Refused for", "Updated"], latest.items.map((d) =>
      row(d.id, d.ask.kind, d.ask.ai_system_id, badge(d.status, "st"), String(d.score ?? "—"), reasons(d) || "—", fmtTime(d.updated_at))),
    "Latest requests"),
  ];
}

// ------------------------------------------------------------------ audit

const auditFilters = { actor: "", action: "", resource_type: "", resource_id: "", from: "", to: "" };

export async function audit(view) {
  if (!can("analyst")) {
    view.replaceChildren(el("h2", {}, "Audit"), el("p", { id: "audit-role" }, "Reading the audit log needs the analyst role or higher; this key is a viewer."));
    return;
  }
  const f = auditFilters;
  const inputs = Object.fromEntries(Object.keys(f).map((k) =>
    [k, el("input", { id: `a-${k}`, type: k === "from" || k === "to" ? "date" : "text", value: f[k] })]));
  const body = el("div", {});
  const page = pager(async (cursor) => {
    const q = new URLSearchParams({ limit: "25" });
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    if (cursor) q.set("cursor", cursor);
    const p = await api(`/audit/entries?${q}`);
    body.replaceChildren(table(["Seq", "When", "Actor", "Action", "Resource", "Outcome"], p.items.map((e) =>
      row(String(e.seq), fmtTime(e.at), e.actor, el("span", { class: "action" }, e.action), `${e.resource_type} ${e.resource_id}`,
        badge(e.outcome, "st"))), "Audit entries"));
    return p.next_cursor;
  }, "audit entries");
  const form = el("form", { class: "filters", id: "audit-filters" },
    field("Actor", inputs.actor), field("Action", inputs.action), field("Resource type", inputs.resource_type), field("Resource id", inputs.resource_id),
    field("From", inputs.from), field("To", inputs.to), el("button", { type: "submit" }, "Apply filters"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    for (const k of Object.keys(f)) f[k] = inputs[k].value.trim();
    page.reset();
  });
  const result = el("div", { id: "verify-result", "aria-live": "polite" });
  const checkpoint = el("div", { id: "checkpoint" });
  async function showCheckpoint() {
    try {
      const c = await api("/audit/checkpoints/latest");
      checkpoint.replaceChildren(el("h3", {}, "Latest signed checkpoint"),
        dl([["Tree size", String(c.tree_size)], ["Root hash", el("code", {}, c.root_hash)],
          ["Signed at", fmtTime(c.at)], ["Public key", el("code", {}, c.public_key)],
          ["Signature", el("code", { class: "wrap" }, c.signature)]]));
    } catch (e) {
      checkpoint.replaceChildren(el("p", { class: "muted" }, e.status === 404 ? "No signed checkpoint yet." : e.message));
    }
  }
  const tools = el("div", { class: "actions" });
  if (can("admin")) {
    tools.append(button("Verify ledger", async () => {
      const r = await api("/audit/verify", { method: "POST" });
      result.replaceChildren(el("p", { class: r.ok ? "ok" : "bad", id: "verify-status" },
        r.ok ? `Verified: OK — entries ${r.from}–${r.to} (${r.entries_checked} entries, ${r.checkpoints_checked} checkpoints), root ${r.root_hash}`
          : `Verification FAILED at ${JSON.stringify(r.first_break)}`));
      await showCheckpoint();
    }, { id: "verify" }), button("Sign a checkpoint now", async () => {
      await api("/audit/checkpoints", { method: "POST" });
      flash("Checkpoint signed.");
      await showCheckpoint();
    }, { id: "sign-checkpoint" }));
  }
  view.replaceChildren(el("h2", {}, "Audit"), form, tools, result, body, page.nav, checkpoint);
  await Promise.all([page.show(), showCheckpoint()]);
}

// ------------------------------------------------------------------ webhooks

export async function webhooks(view) {
  const p = await api("/webhooks");
  view.replaceChildren(el("h2", {}, "Webhooks"),
    table(["URL", "Events", "Min severity", "State", "Failing since"], p.items.map((w) => row(
      link(`#webhook/${enc(w.id)}`, w.url), (w.event_types || []).join(", ") || "all", w.min_severity ?? "any",
      badge(w.enabled ? "enabled" : "disabled", "st"), fmtTime(w.failing_since) || "—")), "Endpoints"));
}

export async function webhook(view, id) {
  const w = await api(`/webhooks/${enc(id)}`);
  const body = el("div", {});
  const page = pager(async (cursor) => {
    const q = new URLSearchParams({ limit: "20" });
    if (cursor) q.set("cursor", cursor);
    const d = await api(`/webhooks/${enc(id)}/deliveries?${q}`);
    body.replaceChildren(table(["Created", "Event", "Status", "Attempts", "Last error", ""], d.items.map((m) => {
      const act = el("td", {});
      if (can("admin") && ["failed", "delivered", "dead"].includes(m.status)) {
        act.append(button("Redeliver", async () => {
          await api(`/webhooks/${enc(id)}/deliveries/${enc(m.id)}/redeliver`, { method: "POST" });
          flash(`Delivery ${m.id} queued again.`);
          await page.show();
        }, { "aria-label": `Redeliver ${m.id}` }));
      }
      return row(fmtTime(m.created_at), `${m.event_type} ${m.event_id}`, badge(m.status, "st"), String(m.attempt_count),
        m.last_error || (m.last_status_code ? `HTTP ${m.last_status_code}` : "—"), act);
    }), "Deliveries"));
    return d.next_cursor;
  }, "deliveries");
  view.replaceChildren(el("p", {}, link("#webhooks", "← Back to webhooks")), el("h2", {}, w.url),
    dl([["Description", w.description], ["Events", (w.event_types || []).join(", ")], ["Min severity", w.min_severity],
      ["Enabled", w.enabled ? "yes" : `no (${w.disabled_reason || ""})`], ["Failing since", fmtTime(w.failing_since)]]),
    el("h3", {}, "Deliveries"), body, page.nav);
  await page.show();
}
