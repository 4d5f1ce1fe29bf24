// The screening page. Record text is untrusted: it is only ever inserted as text nodes
// (textContent / createTextNode), never as HTML.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const params = new URLSearchParams(location.search);
let reviewer = params.get("reviewer") || localStorage.getItem("prioritiser-reviewer") ||
  document.querySelector('meta[name="default-reviewer"]').content;
let settings = null;
let current = null;          // the record on screen
let view = "screen";         // or "conflicts"
let busy = false;
const undoStack = [];          // group ids this reviewer decided in this session, for undo
window.keyToScreenMs = [];   // key press to next record painted, per decision (read by the latency benchmark)
window.serverSaveMs = [];    // the server's time to store each decision

const $ = (id) => document.getElementById(id);

async function call(path, body) {
  const sep = path.includes("?") ? "&" : "?";
  const url = path + sep + "reviewer=" + encodeURIComponent(reviewer);
  const options = body === undefined ? {} : {
    method: "POST", body: JSON.stringify({ ...body, reviewer }),
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
  };
  const response = await fetch(url, options);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function say(text, error = false) {
  $("status-line").textContent = text;
  $("status-line").className = error ? "error" : "";
}

// ---------------------------------------------------------------- highlighting
function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

function highlighter() {
  const kinds = [];
  for (const t of settings.terms.include) kinds.push([t, "inc"]);
  for (const t of settings.terms.exclude) kinds.push([t, "exc"]);
  for (const t of settings.question_terms) kinds.push([t, "q"]);
  if (!kinds.length) return null;
  kinds.sort((a, b) => b[0].length - a[0].length);
  const kindOf = new Map(kinds.map(([t, k]) => [t.toLowerCase(), k]));
  const pattern = new RegExp("\\b(" + kinds.map(([t]) => escapeRegExp(t)).join("|") + ")", "giu");
  return { pattern, kindOf };
}

function fillText(element, text) {
  element.replaceChildren();
  text = text || "";
  const h = highlighter();
  if (!h) { element.textContent = text; return; }
  let last = 0;
  for (const match of text.matchAll(h.pattern)) {
    if (match.index > last) element.appendChild(document.createTextNode(text.slice(last, match.index)));
    const mark = document.createElement("mark");
    mark.className = h.kindOf.get(match[0].toLowerCase()) || "q";
    mark.textContent = match[0];
    element.appendChild(mark);
    last = match.index + match[0].length;
  }
  if (last < text.length) element.appendChild(document.createTextNode(text.slice(last)));
}

// ---------------------------------------------------------------- record
function show(record, banner) {
  current = record;
  $("banner").hidden = !banner;
  $("banner").textContent = banner || "";
  if (!record) {
    $("record").hidden = true; $("why").hidden = true;
    $("done").hidden = false;
    $("done").textContent = view === "conflicts" ? "No open conflicts." : "Nothing is left for you to screen.";
    document.body.dataset.groupId = "";
    return;
  }
  $("done").hidden = true;
  $("record").hidden = false;
  fillText($("title"), record.title || "(no title)");
  fillText($("abstract"), record.abstract || "(no abstract)");
  $("byline").textContent = [record.authors, record.year, record.journal].filter((x) => x).join(" · ");
  const doi = (record.doi || "").trim();
  $("doi").textContent = doi ? "doi:" + doi : "";
  if (doi) $("doi").href = "https://doi.org/" + encodeURI(doi); else $("doi").removeAttribute("href");
  fillText($("keywords"), record.keywords ? "Keywords: " + record.keywords : "");
  $("position").textContent = "Record " + record.group_id + (record.rank ? " · rank " + record.rank : "") +
    (record.duplicates ? " · " + record.duplicates + " duplicate(s)" : "");
  $("my-decision").hidden = !record.my_decision;
  $("my-decision").textContent = record.my_decision ? "Your decision: " + record.my_decision +
    " (a key records a new decision)" : "";
  const why = record.why;
  $("why").hidden = !why;
  if (why) {
    $("why-terms").textContent = (why.terms || "none") + " (ranks above " + why.percentile + "% of the unscreened)";
    $("why-similar").textContent = why.similar ? "record " + why.similar.group_id + ": " + why.similar.title : "none yet";
  }
  document.body.dataset.groupId = String(record.group_id);
}

// ``at``: event time of the key press or click that asked for it (for window.keyToScreenMs)
async function decide(decision, reason = "", at = performance.now()) {
  if (busy || !current) return;
  busy = true;
  const t0 = performance.now();
  try {
    if (view === "conflicts") {
      await call("/api/adjudicate", { group_id: current.group_id, decision });
      await loadConflicts();
    } else {
      const data = await call("/api/decide", { group_id: current.group_id, decision, reason });
      undoStack.push(current.group_id);
      show(data.record);
      window.serverSaveMs.push(data.saved_ms);
      requestAnimationFrame(() => window.keyToScreenMs.push(performance.now() - at));
      say("Saved " + decision + (reason ? " (" + reason + ")" : "") + " on record " + undoStack.at(-1) +
        " in " + Math.round(performance.now() - t0) + " ms");
    }
    document.body.dataset.decisions = String(Number(document.body.dataset.decisions || 0) + 1);
    soonRefreshProgress();
  } catch (err) {
    say("Not saved: " + err.message, true);
  } finally {
    busy = false;
  }
}

async function undo() {
  if (busy || !undoStack.length || view !== "screen") return;
  busy = true;
  try {
    const group = undoStack.pop();
    const data = await call("/api/record/" + group);
    show(data.record, "Back to your last decision: press a key to change it, or decide it again.");
  } catch (err) {
    say(err.message, true);
  } finally {
    busy = false;
  }
}

async function loadNext() {
  const data = await call("/api/next");
  show(data.record);
}

async function loadConflicts() {
  const data = await call("/api/conflicts");
  $("conflict-count").textContent = data.open;
  const row = data.conflicts[0];
  const banner = row ? "Conflict: " + Object.entries(row.decisions).map(([r, d]) => r + " says " + d).join(", ") +
    ". Your decision settles it (a new event; nothing is overwritten)." : "";
  show(row ? row.record : null, banner);
}

async function toggleConflicts() {
  if (!settings.is_adjudicator) return;
  view = view === "screen" ? "conflicts" : "screen";
  $("conflicts-label").textContent = view === "conflicts" ? "Back to screening" : "Conflicts";
  if (view === "conflicts") await loadConflicts(); else await loadNext();
}

// ---------------------------------------------------------------- progress
function pct(x) { return x == null ? "–" : (100 * x).toFixed(1) + "%"; }
function num(x) { return x == null ? "–" : x.toFixed(2); }

let progressTimer = null;
function soonRefreshProgress() {  // at most one progress request per second while keys come fast
  if (progressTimer === null) progressTimer = setTimeout(() => { progressTimer = null; refreshProgress(); }, 1000);
}

async function refreshProgress() {
  let p;
  try { p = await call("/api/progress"); } catch (err) { return; }
  $("found").textContent = p.includes + " includes found in " + p.screened + " of " + p.groups + " records screened";
  $("mine").textContent = "You: " + p.mine.screened + " screened, " + p.mine.includes + " included; " +
    p.left_for_me + " left for you";
  const box = $("batches");
  box.replaceChildren();
  const top = Math.max(1, ...p.batches.map((b) => b.includes));
  for (const b of p.batches) {
    const bar = document.createElement("div");
    bar.style.height = (100 * b.includes / top) + "%";
    bar.title = "records " + b.from + "–" + b.to + ": " + b.includes + " includes";
    box.appendChild(bar);
  }
  $("estimate").textContent = p.estimate_text || "Recall estimate: after the first ranking. " + (p.note || "");
  $("verdict").textContent = p.default_rule ? "Default rule (" + p.default_rule.rule + "): " +
    (p.default_rule.stop ? "STOP" : "continue") : "";
  $("forecast").textContent = p.forecast || "";
  $("retraining").textContent = (p.retraining ? "Retraining in the background… " : "") +
    (p.as_of_event != null ? "Estimates as of decision event " + p.as_of_event + "." : "") + (p.error ? " " + p.error : "");
  $("conflict-count").textContent = p.open_conflicts;
  const rows = $("agreement").querySelector("tbody");
  rows.replaceChildren();
  $("agreement-panel").hidden = !p.agreement.length;
  for (const a of p.agreement) {
    const tr = document.createElement("tr");
    for (const v of [a.reviewer_a + " – " + a.reviewer_b, String(a.n), num(a.kappa), pct(a.include_prevalence),
      num(a.pabak), num(a.ac1)]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    rows.appendChild(tr);
  }
}

// ---------------------------------------------------------------- terms
function showTerms() {
  const list = $("term-list");
  list.replaceChildren();
  for (const [kind, css] of [["include", "inc"], ["exclude", "exc"]]) {
    for (const term of settings.terms[kind]) {
      const li = document.createElement("li");
      li.className = css;
      li.textContent = term;
      const remove = document.createElement("button");
      remove.textContent = "×";
      remove.title = "remove";
      remove.addEventListener("click", () => editTerm(term, kind, false));
      li.appendChild(remove);
      list.appendChild(li);
    }
  }
  $("question-line").hidden = !settings.question_terms.length;
}

async function editTerm(term, kind, present) {
  try {
    const data = await call("/api/terms", { term, kind, present });
    settings.terms = data.terms;
    showTerms();
    if (current) show(current, $("banner").hidden ? "" : $("banner").textContent);
  } catch (err) { say(err.message, true); }
}

// ---------------------------------------------------------------- keys and start
function onKey(event) {
  if (event.target.closest("input, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
  if ($("help").open && event.key !== "?") return;
  const key = event.key;
  const at = event.timeStamp;
  if (key === "i") decide("include", "", at);
  else if (key === "e") decide("exclude", "", at);
  else if (key === "m") decide("maybe", "", at);
  else if (key === "u") undo();
  else if (key === "c") toggleConflicts();
  else if (key === "?") { if ($("help").open) $("help").close(); else $("help").showModal(); }
  else if (/^[1-9]$/.test(key) && view === "screen" && settings.reasons[Number(key) - 1]) {
    decide("exclude", settings.reasons[Number(key) - 1], at);
  } else return;
  event.preventDefault();
}

async function start() {
  if (!reviewer) {
    $("name-form").hidden = false;
    $("name-form").addEventListener("submit", (event) => {
      event.preventDefault();
      reviewer = $("name-input").value.trim();
      if (!reviewer) return;
      localStorage.setItem("prioritiser-reviewer", reviewer);
      $("name-form").hidden = true;
      start();
    });
    return;
  }
  settings = await call("/api/state");
  $("who").textContent = "Reviewer: " + reviewer;
  $("mode").textContent = "Mode: " + settings.mode + (settings.mode !== "single" ? " (blind)" : "");
  $("conflicts-button").hidden = !settings.is_adjudicator;
  settings.reasons.forEach((reason, i) => {
    const b = document.createElement("button");
    b.textContent = "";
    const k = document.createElement("kbd"); k.textContent = String(i + 1);
    b.append(k, " " + reason);
    b.addEventListener("click", (event) => decide("exclude", reason, event.timeStamp));
    $("reasons").appendChild(b);
  });
  for (const b of document.querySelectorAll("#actions button[data-decision]")) {
    b.addEventListener("click", (event) => decide(b.dataset.decision, "", event.timeStamp));
  }
  $("undo").addEventListener("click", undo);
  $("help-button").addEventListener("click", () => $("help").showModal());
  $("conflicts-button").addEventListener("click", toggleConflicts);
  $("term-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const term = $("term-input").value.trim();
    if (term) editTerm(term, event.submitter.dataset.kind, true);
    $("term-input").value = "";
  });
  document.addEventListener("keydown", onKey);
  showTerms();
  await loadNext();
  refreshProgress();
  setInterval(refreshProgress, 4000);
  document.body.dataset.ready = "1";
}

start().catch((err) => say(err.message, true));
