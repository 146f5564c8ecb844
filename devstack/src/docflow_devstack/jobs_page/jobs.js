// The docflow jobs page: polls GET /jobs on this gateway and renders a card per job.
// Job data reaches the DOM only as text (Text nodes, textContent, attribute values), never as
// markup: a document's fields and summary are whatever the document said.
"use strict";

const POLL_MS = 1500;
const LIMIT = 50;
const TOKEN_KEY = "docflow.apiToken"; // sessionStorage: gone when the tab closes
const REVIEWER_KEY = "docflow.reviewer";
// The fields a reviewer may correct, by kind of document (as ApprovalDecision takes them).
const CORRECTABLE = {
  invoice: ["vendor", "number", "date", "total", "currency"],
  receipt: ["merchant", "date", "total", "currency"],
};

// jobId -> {card, body, approval, redrive, shown}: cards are kept and updated in place, so a
// reviewer's half-typed name or comment survives every refresh.
const cards = new Map();
let pollNumber = 0;
let pollTimer = null;

// An answer the API refused, with the sentence the page shows for it.
class ApiError extends Error {
  constructor(status, body) {
    super(apiMessage(status, body));
  }
}

const WHICH_TOKEN =
  "paste the stack's DOCFLOW_API_TOKEN into the token box (with DOCFLOW_AUTH=jwt: the token " +
  "`docflow login --as <you>` printed).";

function apiMessage(status, body) {
  if (status === 401) {
    return sessionStorage.getItem(TOKEN_KEY)
      ? `The API refused the token (401): ${WHICH_TOKEN}`
      : `The API needs a token (401): ${WHICH_TOKEN}`;
  }
  return body && body.message ? `${body.message} (${status})` : `The API answered ${status}.`;
}

function authorization() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function api(method, path, body) {
  const headers = authorization();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

function errorText(err) {
  return err instanceof ApiError ? err.message : `The gateway is not answering (${err.message}).`;
}

// An element with attributes and children; strings become Text nodes, null children are skipped.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function time(iso, withDate) {
  if (!iso) return "–";
  const date = new Date(iso);
  const text = withDate ? date.toLocaleString() : date.toLocaleTimeString();
  return el("time", { datetime: iso, title: iso }, text);
}

function seconds(ms) {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function statusLabel(status) {
  return status.replaceAll("_", " ");
}

function poll() {
  clearTimeout(pollTimer);
  const number = ++pollNumber; // a later poll (filter or token changed) supersedes this one
  const query = new URLSearchParams({ limit: LIMIT });
  const status = document.getElementById("status-filter").value;
  if (status) query.set("status", status);
  api("GET", `/jobs?${query}`)
    .then((answer) => {
      if (number !== pollNumber) return;
      render(answer.jobs);
      showNotice(null);
      document.getElementById("updated").textContent =
        `updated ${new Date().toLocaleTimeString()}`;
    })
    .catch((err) => {
      if (number === pollNumber) showNotice(errorText(err));
    })
    .finally(() => {
      if (number === pollNumber) pollTimer = setTimeout(poll, POLL_MS);
    });
}

function showNotice(text) {
  const notice = document.getElementById("notice");
  notice.hidden = !text;
  notice.textContent = text || "";
}

function render(jobs) {
  const list = document.getElementById("jobs");
  const listed = new Set(jobs.map((job) => job.jobId));
  for (const [jobId, entry] of cards) {
    if (!listed.has(jobId)) {
      entry.card.remove();
      cards.delete(jobId);
    }
  }
  // Put the cards in the answer's order, moving only those out of place: a moved node loses
  // focus, and an unchanged order moves nothing.
  let next = list.firstElementChild;
  for (const job of jobs) {
    const card = update(job);
    if (card === next) next = next.nextElementSibling;
    else list.insertBefore(card, next);
  }
  document.getElementById("empty").hidden = jobs.length > 0;
}

function update(job) {
  let entry = cards.get(job.jobId);
  if (!entry) {
    const body = el("div");
    entry = { card: el("article", { class: "job", "data-job-id": job.jobId }, body), body };
    cards.set(job.jobId, entry);
  }
  const shown = JSON.stringify(job);
  const running = job.steps.some((step) => step.state === "running");
  // Running steps' durations tick, and so does "waiting since"; others redraw when they change.
  if (shown !== entry.shown || running || job.waitingForWorkerSince) {
    entry.card.dataset.status = job.status;
    entry.body.replaceChildren(...details(job));
    entry.shown = shown;
  }
  if (job.status === "awaiting_approval" && !entry.approval) {
    entry.approval = approvalForm(job);
    entry.card.append(entry.approval);
  } else if (job.status !== "awaiting_approval" && entry.approval) {
    entry.approval.remove();
    entry.approval = null;
  }
  // One redrive form per failed run; a sent one stays, with its answer, while the job runs again.
  const runs = String(job.runs.length);
  if (job.redrivable && (!entry.redrive || entry.redrive.dataset.runs !== runs)) {
    entry.redrive?.remove();
    entry.redrive = redriveForm(job.jobId, job.step);
    entry.redrive.dataset.runs = runs;
    entry.card.append(entry.redrive);
  } else if (!job.redrivable && entry.redrive && !entry.redrive.dataset.sent) {
    entry.redrive.remove();
    entry.redrive = null;
  }
  return entry.card;
}

function details(job) {
  return [
    el(
      "header",
      { class: "job-head" },
      el("span", { class: "badge", "data-field": "status" }, statusLabel(job.status)),
      el("h2", { "data-field": "job-id" }, job.jobId),
      el(
        "dl",
        { class: "meta" },
        meta("created", "created", time(job.createdAt, true)),
        meta("step", "current step", job.step || "–"),
        meta("correlation-id", "correlation id", job.correlationId || "–"),
        meta("workflow-version", "workflow", job.workflowVersion ? `v${job.workflowVersion}` : "–"),
      ),
    ),
    job.waitingForWorkerSince
      ? waitingWarning(job.waitingForWorkerSince, job.waitingReason)
      : null,
    stepsTable(job.steps),
    job.result ? resultSection(job) : null,
    job.error ? errorSection(job.error) : null,
    job.audit && job.audit.length ? auditSection(job.audit) : null,
  ].filter(Boolean);
}

function meta(field, name, value) {
  return el("div", null, el("dt", null, name), el("dd", { "data-field": field }, value));
}

function waitingWarning(since, reason) {
  return el(
    "p",
    { class: "warning", "data-field": "waiting" },
    "⚠ Waiting for a worker since ",
    time(since),
    ` (${seconds(Date.now() - Date.parse(since))}): `,
    reason || "no live worker has this job. Is one running?",
  );
}

function stepsTable(steps) {
  const ended = (step) => (step.endedAt ? Date.parse(step.endedAt) : Date.now());
  const started = steps.filter((step) => step.startedAt);
  const span = {
    from: Math.min(...started.map((step) => Date.parse(step.startedAt))),
    to: Math.max(...started.map(ended)),
  };
  const rows = steps.map((step) => {
    const start = step.startedAt ? Date.parse(step.startedAt) : null;
    const duration =
      start === null ? "–" : seconds(ended(step) - start) + (step.endedAt ? "" : " …");
    return el(
      "tr",
      { "data-step": step.name, "data-state": step.state },
      el("td", null, step.name),
      el("td", null, el("span", { class: "state", "data-state": step.state }, step.state)),
      el("td", null, time(step.startedAt)),
      el("td", null, time(step.endedAt)),
      el("td", null, duration),
      el("td", { "data-field": "attempts" }, step.attempts ?? "–"),
      el("td", { "data-field": "worker" }, step.worker || "–"),
      el("td", { class: "timeline" }, start === null ? null : bar(step, start, ended(step), span)),
    );
  });
  const heads = ["step", "state", "started", "ended", "duration", "attempts", "worker", "timeline"];
  return el(
    "table",
    { class: "steps", "data-field": "steps" },
    el("thead", null, el("tr", null, ...heads.map((name) => el("th", null, name)))),
    el("tbody", null, ...rows),
  );
}

// The step's share of the job's time so far, as a bar placed along it.
function bar(step, start, end, span) {
  const whole = Math.max(span.to - span.from, 1);
  const node = el("div", { class: "bar", "data-state": step.state });
  node.style.left = `${((start - span.from) / whole) * 100}%`;
  node.style.width = `${((end - start) / whole) * 100}%`;
  return el("div", { class: "track" }, node);
}

function resultSection(job) {
  // A job awaiting approval holds the analysis for the reviewer; a done job holds it flat.
  const result = job.result;
  const analysis = result.analysis || result;
  const fields = Object.entries(analysis.fields || {});
  return el(
    "section",
    { class: "result", "data-field": "result" },
    el(
      "p",
      null,
      job.status === "awaiting_approval" ? "To review: " : "Document type: ",
      el("strong", { "data-field": "document-type" }, analysis.documentType || "–"),
      result.pages ? ` · ${result.pages} page${result.pages === 1 ? "" : "s"}` : null,
    ),
    analysis.summary
      ? el("p", { class: "summary", "data-field": "summary" }, analysis.summary)
      : null,
    fields.length ? fieldsTable(fields) : null,
    result.approval
      ? el(
          "p",
          { "data-field": "approved-by" },
          `Approved by ${result.approval.approvedBy}`,
          result.approval.comment ? `: ${result.approval.comment}` : "",
        )
      : null,
  );
}

function fieldText(value) {
  if (Array.isArray(value)) return value.join(", "); // a contract's parties
  return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}

// A value, or what it could be when the analyzer was not sure enough to say.
function valueText(found) {
  if (found.value !== null && found.value !== undefined) {
    return fieldText(found.value) + (found.source === "reviewer" ? " (corrected)" : "");
  }
  const choices = (found.candidates || []).map((c) => fieldText(c.value));
  return choices.length ? `unsure: ${choices.join(" or ")}?` : "unsure";
}

function fieldsTable(fields) {
  const heads = ["field", "value", "page", "evidence"];
  return el(
    "table",
    { class: "fields", "data-field": "fields" },
    el("thead", null, el("tr", null, ...heads.map((name) => el("th", null, name)))),
    el(
      "tbody",
      null,
      ...fields.map(([name, found]) =>
        el(
          "tr",
          { "data-field-name": name },
          el("td", null, name),
          el("td", { "data-field": "value" }, valueText(found)),
          el("td", null, found.page ?? "–"),
          el("td", { class: "muted" }, found.evidence || ""),
        ),
      ),
    ),
  );
}

function errorSection(error) {
  return el(
    "section",
    { class: "error", "data-field": "error" },
    el("strong", { "data-field": "error-reason" }, error.reason || "error"),
    ": ",
    el("span", { "data-field": "error-message" }, error.message || ""),
  );
}

// Who decided what on the job, and when: "verified" when the name came from a verified token.
function auditSection(audit) {
  return el(
    "ul",
    { class: "audit", "data-field": "audit" },
    ...audit.map((entry) =>
      el(
        "li",
        { "data-action": entry.action },
        `${entry.action.replace("_", " ")} by ${entry.by || "an unnamed caller"}`,
        entry.verified ? " (verified)" : "",
        " · ",
        time(entry.at, true),
        entry.comment ? `: ${entry.comment}` : "",
      ),
    ),
  );
}

function approvalForm(job) {
  const jobId = job.jobId;
  // Signed in with a token from `docflow login`, the name may stay empty: it is the token's.
  const reviewer = el("input", { name: "reviewer", placeholder: "your name (or none: the token's)" });
  reviewer.value = localStorage.getItem(REVIEWER_KEY) || "";
  const comment = el("input", { name: "comment", placeholder: "say why when rejecting" });
  const approve = el("button", { type: "button", "data-action": "approve" }, "Approve");
  const reject = el("button", { type: "button", "data-action": "reject" }, "Reject");
  const message = el("p", { class: "approval-message", "data-field": "approval-message" });
  const corrections = correctionInputs(job);
  const form = el(
    "form",
    { class: "approval", "data-field": "approval" },
    ...evidencePages(job),
    corrections.length
      ? el("fieldset", { class: "corrections" }, el("legend", null, "Fields (correct what is wrong)"),
          ...corrections.map((input) => el("label", null, `${input.dataset.correct} `, input)))
      : null,
    el("label", null, "Reviewer ", reviewer),
    el("label", { class: "comment" }, "Comment ", comment),
    approve,
    reject,
    message,
  );
  form.addEventListener("submit", (event) => event.preventDefault());
  approve.addEventListener("click", () => decide(true));
  reject.addEventListener("click", () => decide(false));
  return form;

  async function decide(approved) {
    approve.disabled = reject.disabled = true;
    message.classList.remove("refused");
    message.textContent = approved ? "Approving…" : "Rejecting…";
    const name = reviewer.value.trim();
    const decision = { approved, comment: comment.value.trim() };
    if (name) decision.reviewer = name;
    // A value the reviewer changed, or accepted where the analyzer was unsure, is a correction.
    const fields = {};
    for (const input of corrections) {
      const value = input.value.trim();
      if (value && value !== input.dataset.original) fields[input.dataset.correct] = value;
    }
    if (approved && Object.keys(fields).length) decision.fields = fields;
    try {
      // Job ids are [A-Za-z0-9._:-], all path-safe as they are.
      await api("POST", `/jobs/${jobId}/approval`, decision);
      localStorage.setItem(REVIEWER_KEY, name);
      const verb = approved ? "Approved" : "Rejected";
      message.textContent = `${verb}${name ? ` by ${name}` : ""}; the job resumes.`;
    } catch (err) {
      message.textContent = errorText(err);
      message.classList.add("refused");
      approve.disabled = reject.disabled = false;
    }
  }
}

// The pages the fields were read from, each field's evidence line boxed on the page's picture
// (an unsure field's candidates, dashed), so the reviewer checks the values against the page.
function evidencePages(job) {
  const analysis = (job.result && (job.result.analysis || job.result)) || {};
  const marks = [];
  for (const [name, field] of Object.entries(analysis.fields || {})) {
    const unsure = field.value === null || field.value === undefined;
    for (const found of unsure ? field.candidates || [] : [field]) {
      if (found.box) marks.push({ name, unsure, page: found.page, box: found.box, value: found.value });
    }
  }
  const pages = [...new Set(marks.map((mark) => mark.page))].sort((a, b) => a - b);
  return pages.map((page) => {
    const picture = el("img", { alt: `page ${page}`, "data-field": "page-picture" });
    const figure = el("figure", { class: "evidence", "data-page": page }, picture);
    for (const mark of marks.filter((m) => m.page === page)) {
      const box = el(
        "div",
        { class: mark.unsure ? "box unsure" : "box", "data-evidence-box": mark.name,
          title: `${mark.name}: ${fieldText(mark.value)}` },
        el("span", null, mark.unsure ? `${mark.name}?` : mark.name),
      );
      // Positioned through the CSSOM: the page's CSP allows no style attributes.
      Object.assign(box.style, {
        left: `${mark.box.left * 100}%`,
        top: `${mark.box.top * 100}%`,
        width: `${(mark.box.right - mark.box.left) * 100}%`,
        height: `${(mark.box.bottom - mark.box.top) * 100}%`,
      });
      figure.append(box);
    }
    pagePicture(job.jobId, page).then(
      (url) => { picture.src = url; },
      (err) => figure.append(el("figcaption", { class: "refused" }, errorText(err))),
    );
    return figure;
  });
}

// The picture of a job's page, fetched with the token (an <img> cannot send one).
async function pagePicture(jobId, page) {
  const response = await fetch(`/jobs/${jobId}/pages/${page}`, { headers: authorization() });
  if (!response.ok) {
    throw new ApiError(response.status, await response.json().catch(() => null));
  }
  return URL.createObjectURL(await response.blob());
}

// One input per field a reviewer may correct: the analyzer's value, or its best candidate.
function correctionInputs(job) {
  const analysis = (job.result && (job.result.analysis || job.result)) || {};
  const found = analysis.fields || {};
  return (CORRECTABLE[analysis.documentType] || []).map((name) => {
    const field = found[name] || {};
    const input = el("input", { name: `field-${name}`, "data-correct": name });
    input.dataset.original = field.value ?? "";
    input.value = field.value ?? field.candidates?.[0]?.value ?? "";
    return input;
  });
}

// A failed job that may run again from its failed step, once the fix is deployed.
function redriveForm(jobId, step) {
  const redrive = el("button", { type: "button", "data-action": "redrive" }, "Redrive");
  const message = el("p", { class: "approval-message", "data-field": "redrive-message" },
    `Once the fix is deployed, run it again from ${step}: the steps before it are not redone.`);
  const form = el("form", { class: "approval", "data-field": "redrive" }, redrive, message);
  form.addEventListener("submit", (event) => event.preventDefault());
  redrive.addEventListener("click", async () => {
    redrive.disabled = true;
    message.classList.remove("refused");
    message.textContent = "Redriving…";
    try {
      await api("POST", `/jobs/${jobId}/redrive`);
      form.dataset.sent = "true";
      message.textContent = `Redriven: it runs again from ${step}.`;
    } catch (err) {
      message.textContent = errorText(err);
      message.classList.add("refused");
      redrive.disabled = false;
    }
  });
  return form;
}

function setUpToken() {
  const input = document.getElementById("token");
  input.value = sessionStorage.getItem(TOKEN_KEY) || "";
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    poll();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    input.value = "";
    sessionStorage.removeItem(TOKEN_KEY);
    poll();
  });
}

setUpToken();
document.getElementById("status-filter").addEventListener("change", poll);
poll();
