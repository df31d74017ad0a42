// sluice console: the only script. It asks before a destructive button acts,
// and keeps the request log live. No inline script anywhere (the CSP forbids it).
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});

function cell(text, numeric) {
  const td = document.createElement("td");
  if (numeric) td.className = "num";
  td.textContent = text === null || text === undefined ? "–" : String(text);
  return td;
}

// The same row as the server renders (host/src/console/pages/requests.rs).
function rows(line) {
  const tr = document.createElement("tr");
  tr.className = "request fresh";
  tr.dataset.request = line.request_id;
  tr.dataset.status = String(line.status);
  const guardrails = (line.guardrails || [])
    .filter((g) => g.action !== "allow")
    .map((g) => `${g.guardrail} ${g.action} (${g.phase})`);
  const tokens = line.input_tokens != null && line.output_tokens != null
    ? `${line.input_tokens} / ${line.output_tokens}` : "–";
  const request = document.createElement("td");
  const code = document.createElement("code");
  code.textContent = line.request_id;
  request.appendChild(code);
  tr.append(
    cell((line.time || "").slice(11, 19)), request, cell(line.key_id), cell(line.team),
    cell(line.model), cell(line.status, true), cell(tokens, true),
    cell(`${Number(line.duration_ms || 0).toFixed(1)} ms`, true),
    cell(`${Number(line.overhead_ms || 0).toFixed(2)} ms`, true),
    cell(guardrails.length ? guardrails.join(", ") : "–"));
  const details = document.createElement("tr");
  details.className = "details";
  const td = document.createElement("td");
  td.colSpan = 10;
  const box = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "route, retries, guardrails, timings";
  const pre = document.createElement("pre");
  pre.textContent = JSON.stringify(line, null, 2);
  box.append(summary, pre);
  td.appendChild(box);
  details.appendChild(td);
  return [tr, details];
}

async function poll(table, body) {
  try {
    const response = await fetch(`/admin/requests?after=${table.dataset.last}&limit=200`,
      { credentials: "same-origin", headers: { accept: "application/json" } });
    if (response.ok) {
      const page = await response.json();
      for (const line of page.data) {
        const [row, details] = rows(line);
        body.prepend(details);
        body.prepend(row);
      }
      table.dataset.last = String(page.last);
    }
  } catch (_) {
    // The next poll tries again.
  }
  setTimeout(() => poll(table, body), 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("requests-table");
  const body = document.getElementById("requests-body");
  if (table && body) setTimeout(() => poll(table, body), 2000);
});
