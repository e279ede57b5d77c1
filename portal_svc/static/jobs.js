// The Jobs pages, kept live: an EventSource on /events/jobs delivers the signed-in user's job
// events. A progress event moves the job's bar; any other event refetches the job's JSON
// (/jobs/{id}/state) and redraws its row. Cancel buttons POST with the X-CSRF-Token header.
"use strict";

(function () {
  var TERMINAL = ["succeeded", "failed", "cancelled"];
  var TYPES = ["queued", "started", "progress", "succeeded", "failed", "cancelled", "lost"];

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function field(root, name) { return root.querySelector('[data-field="' + name + '"]'); }

  function showError(text) {
    var box = document.querySelector("[data-job-error]");
    if (!box) { return; }
    box.textContent = text;
    box.hidden = !text;
  }

  function setProgress(root, fraction, message) {
    var bar = field(root, "progress");
    if (!bar) { return; }
    if (fraction !== null && fraction !== undefined) {
      var value = Math.round(fraction * 100);
      bar.value = value;
      bar.setAttribute("aria-valuenow", String(value));
      field(root, "percent").textContent = value + "%";
    }
    if (message) { field(root, "message").textContent = message; }
  }

  function setText(root, name, text) {
    var el = field(root, name);
    if (el) { el.textContent = text; }
  }

  function applyJob(root, job) {
    root.setAttribute("data-state", job.state);
    var pill = field(root, "state");
    pill.textContent = job.state;
    pill.className = "pill job-state state-" + job.state;
    setText(root, "queue", job.queue_position ? "#" + job.queue_position : "–");
    setText(root, "attempt", job.attempt ? "attempt " + job.attempt + " of " + job.max_attempts
                                         : "not started yet");
    setText(root, "reason", (job.reason || "–") + (job.interrupted ? " (interrupted)" : ""));
    setProgress(root, job.state === "succeeded" ? 1 : (job.progress || 0),
                job.progress_message || job.reason || "");
    var elapsed = field(root, "elapsed");
    elapsed.setAttribute("data-started", job.started_at || "");
    elapsed.setAttribute("data-finished", job.finished_at || "");
    var done = TERMINAL.indexOf(job.state) >= 0;
    root.querySelector("[data-cancel]").hidden = done;
    field(root, "result").hidden = job.state !== "succeeded";
    tick();
  }

  function fillNewRow(row, job) {
    var link = field(row, "link");
    link.href = "/jobs/" + job.id;
    link.textContent = job.id.slice(0, 8);
    field(row, "result").href = "/jobs/" + job.id + "/result";
    setText(row, "procedure", job.procedure);
    setText(row, "app", job.app + " " + job.app_version);
    setText(row, "user", job.user);
    setText(row, "created", job.created_at.slice(0, 16).replace("T", " "));
    row.setAttribute("data-job", job.id);
  }

  function rowFor(job) {
    var found = document.querySelector('[data-job="' + job.id + '"]');
    if (found) { return found; }
    var table = document.querySelector("[data-live-jobs]");
    var template = document.getElementById("job-row-template");
    if (!table || !template || table.getAttribute("data-live-new") === "false") { return null; }
    var row = template.content.firstElementChild.cloneNode(true);
    fillNewRow(row, job);
    table.querySelector("tbody").prepend(row);
    table.hidden = false;
    document.querySelector("[data-empty]").hidden = true;
    return row;
  }

  function refresh(jobId) {
    return fetch("/jobs/" + encodeURIComponent(jobId) + "/state", { credentials: "same-origin" })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (job) {
        var root = job && rowFor(job);
        if (root) { applyJob(root, job); }
        return job;
      });
  }

  function refreshPage() {  // every row of a list page, and jobs new since it was made
    return fetch(window.location.pathname + window.location.search,
                 { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (page) {
        if (!page) { return; }
        page.jobs.slice().reverse().forEach(function (job) {  // oldest first: newest on top
          var root = rowFor(job);
          if (root) { applyJob(root, job); }
        });
      });
  }

  function onEvent(message) {
    var data = JSON.parse(message.data);
    var root = document.querySelector('[data-job="' + data.job_id + '"]');
    if (message.type === "progress" && root) {
      setProgress(root, data.fraction, data.message);
      appendLog(data.job_id, data.message);
      return;
    }
    if (message.type === "progress") { return; }
    refresh(data.job_id).then(function (job) {
      if (job && TERMINAL.indexOf(job.state) >= 0) { loadLog(job.id); }
    });
  }

  function cancel(button) {
    var root = button.closest("[data-job]");
    var jobId = root.getAttribute("data-job");
    button.disabled = true;
    fetch("/jobs/" + encodeURIComponent(jobId) + "/cancel", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() },
    }).then(function (resp) {
      return resp.json().then(function (body) {
        if (!resp.ok) { throw new Error((body.error && body.error.message) || "HTTP " + resp.status); }
        showError("");
        applyJob(root, body);
      });
    }).catch(function (err) {
      showError("Could not cancel the job: " + err.message);
    }).then(function () { button.disabled = false; });
  }

  function duration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s % 60);
  }

  function tick() {
    document.querySelectorAll('[data-field="elapsed"]').forEach(function (el) {
      var started = el.getAttribute("data-started");
      var finished = el.getAttribute("data-finished");
      if (!started) { el.textContent = "–"; return; }
      var end = finished ? Date.parse(finished) : Date.now();
      el.textContent = duration(end - Date.parse(started));
    });
  }

  function logBox(jobId) {
    var detail = document.querySelector("[data-detail]");
    if (!detail || detail.getAttribute("data-job") !== jobId) { return null; }
    return document.querySelector("[data-log]");
  }

  function appendLog(jobId, line) {
    var box = logBox(jobId);
    if (!box || !line) { return; }
    box.textContent += line + "\n";
    box.scrollTop = box.scrollHeight;
  }

  function loadLog(jobId) {
    var box = logBox(jobId);
    if (!box) { return; }
    fetch("/jobs/" + encodeURIComponent(jobId) + "/log", { credentials: "same-origin" })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (text) { if (text) { box.textContent = text; } });
  }

  function connect() {
    var status = document.querySelector("[data-live-status]");
    var source = new EventSource("/events/jobs");
    source.onopen = function () {
      status.textContent = "live";
      status.className = "live-status small on";
      if (document.querySelector("[data-live-jobs]")) { refreshPage(); return; }
      document.querySelectorAll("[data-job]").forEach(function (root) {  // what changed unseen
        var id = root.getAttribute("data-job");
        if (id && TERMINAL.indexOf(root.getAttribute("data-state")) < 0) { refresh(id); }
      });
    };
    source.onerror = function () { status.textContent = "reconnecting…"; status.className = "live-status small off"; };
    TYPES.forEach(function (type) { source.addEventListener(type, onEvent); });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-cancel]");
    if (button) { cancel(button); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
    connect();
    var detail = document.querySelector("[data-detail]");
    if (detail && TERMINAL.indexOf(detail.getAttribute("data-state")) >= 0) {
      loadLog(detail.getAttribute("data-job"));
    }
  });
}());
