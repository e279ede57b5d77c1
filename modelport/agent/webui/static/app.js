// The Modelport session WebUI: renders the app's declared pages from api/app, keeps them in
// step with the session over the "ws" WebSocket, and writes changes through the JSON data API.
// Relative URLs only (the proxy mounts the session under /s/{id}/); no cookies or storage of
// its own, so it works in a CSP sandbox with an opaque origin. See docs/agent.md §5-§6.
"use strict";

const state = {
  app: null,          // api/app "app": identifiers, procedures, pages
  decls: {},          // identifier name -> declaration
  procs: {},          // procedure name -> declaration
  values: {},         // identifier name -> JSON value (rows for 2+ sets)
  revision: -1,
  widgets: [],        // {identifiers: Set, refresh()} for every rendered widget
  solveViews: [],     // {show(job)} for every Solve button
};

// --- HTTP -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "error";
    this.issues = error.issues || [];
  }
}

async function api(method, path, body) {
  const init = { method, credentials: "include", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let found = {};
  try { found = text ? JSON.parse(text) : {}; } catch (_) { found = {}; }
  if (!response.ok) throw new ApiError(response.status, found.error || { message: text });
  return found;
}

function showMessage(text) {
  const box = document.getElementById("message");
  box.textContent = text || "";
  box.hidden = !text;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// --- values -----------------------------------------------------------------------------

function setElements(name) {
  const value = state.values[name];
  return Array.isArray(value) ? value : [];
}

// Every (element tuple, value) of an identifier's JSON value.
function entries(decl, value) {
  if (decl.domain.length === 0) return [[[], value]];
  if (decl.domain.length === 1) return Object.entries(value || {}).map(([k, v]) => [[k], v]);
  return (Array.isArray(value) ? value : []).map((row) => [row.slice(0, -1), row[row.length - 1]]);
}

function lookup(decl, value) {
  const map = new Map();
  for (const [key, v] of entries(decl, value)) map.set(JSON.stringify(key), v);
  return map;
}

function product(lists) {
  return lists.reduce((acc, list) => acc.flatMap((a) => list.map((b) => [...a, b])), [[]]);
}

function unitOf(decl) {
  return decl.unit ? ` (${decl.unit})` : "";
}

function asNumberIfNumeric(decl, value) {
  if (typeof value !== "string" || decl.type === "string") return value;
  const trimmed = value.trim();
  if (trimmed === "") return null;
  const number = Number(trimmed.replace(/,/g, ""));
  return Number.isFinite(number) ? number : value;
}

function format(value) {
  if (typeof value === "number") return Number.isInteger(value) ? String(value)
    : String(Math.round(value * 1e6) / 1e6);
  return value === null || value === undefined ? "" : String(value);
}

// --- tables -----------------------------------------------------------------------------

// The grid layout of an identifier: row key sets, column set, rows and each cell's element.
function layout(decl, widget) {
  if (decl.kind === "set") {
    return { rowSets: [decl.name], colSet: null,
             rows: setElements(decl.name).map((e) => ({ k0: e })), cols: [] };
  }
  const domain = decl.domain;
  const colSet = domain.length > 1 ? (widget.columns || domain[domain.length - 1]) : null;
  const rowSets = domain.filter((s, i) => !(colSet && s === colSet && i === domain.indexOf(colSet)));
  const cols = colSet ? setElements(colSet) : [];
  const found = lookup(decl, state.values[decl.name]);
  const rows = product(rowSets.map(setElements)).map((keys) => {
    const row = {};
    keys.forEach((k, i) => { row[`k${i}`] = k; });
    if (colSet) cols.forEach((c, j) => { row[`c${j}`] = found.get(JSON.stringify(elementOf(decl, colSet, keys, c))); });
    else row.value = found.get(JSON.stringify(keys));
    return row;
  });
  return { rowSets, colSet, rows, cols };
}

// The element tuple, in domain order, of the cell at row keys ``keys`` and column ``col``.
function elementOf(decl, colSet, keys, col) {
  const out = [];
  let k = 0;
  const colIndex = decl.domain.indexOf(colSet);
  decl.domain.forEach((_, i) => { out.push(i === colIndex ? col : keys[k++]); });
  return out;
}

function makeTable(container, decl, widget, errors) {
  let grid = layout(decl, widget);
  const editable = widget.editable && decl.kind === "parameter";
  const keyColumns = grid.rowSets.map((s, i) => ({
    title: state.decls[s] ? (state.decls[s].title || s) : s, field: `k${i}`,
    headerFilter: "input", editable: false,
  }));
  const valueColumn = (title, field) => ({
    title, field, hozAlign: decl.type === "string" ? "left" : "right", headerSort: true,
    editor: editable ? (decl.type === "string" ? "input" : "number") : false,
    formatter: (cell) => format(cell.getValue()),
  });
  const dataColumns = grid.colSet
    ? grid.cols.map((c, j) => valueColumn(c, `c${j}`))
    : decl.kind === "set" ? [] : [valueColumn(`${decl.name}${unitOf(decl)}`, "value")];
  const table = new Tabulator(container, {
    data: grid.rows, columns: [...keyColumns, ...dataColumns], layout: "fitDataTable",
    maxHeight: "360px", nestedFieldSeparator: false, history: editable,
    clipboard: true, clipboardPasteParser: "range", clipboardPasteAction: "range",
    clipboardCopyConfig: { columnHeaders: false, rowHeaders: false },
    clipboardCopyRowRange: "range", selectableRange: 1, selectableRangeClearCells: editable,
    editTriggerEvent: "dblclick", headerSortClickElement: "icon",
  });
  let ready = false;
  let snapshot = JSON.stringify(grid.rows);
  table.on("tableBuilt", () => { ready = true; });

  const cellChanges = () => {
    const before = JSON.parse(snapshot);
    const after = table.getData();
    const changes = [];
    after.forEach((row, r) => {
      const keys = grid.rowSets.map((_, i) => row[`k${i}`]);
      const old = before.find((b) => grid.rowSets.every((_, i) => b[`k${i}`] === keys[i])) || {};
      const fields = grid.colSet ? grid.cols.map((c, j) => [`c${j}`, c]) : [["value", null]];
      for (const [field, col] of fields) {
        const value = asNumberIfNumeric(decl, row[field] === undefined ? null : row[field]);
        const was = old[field] === undefined ? null : old[field];
        if (value !== was) {
          const element = grid.colSet ? elementOf(decl, grid.colSet, keys, col) : keys;
          changes.push({ element, value });
        }
      }
    });
    return changes;
  };

  let syncing = Promise.resolve();
  const sync = () => {
    syncing = syncing.then(async () => {
      const changes = cellChanges();
      if (changes.length === 0) return;
      try {
        const answer = await api("PATCH", `api/data/${encodeURIComponent(decl.name)}`, { changes });
        state.values[decl.name] = answer.value;
        errors.replaceChildren();
        await refreshGrid();
      } catch (err) {
        await refreshGrid();
        flag(err);
      }
    });
  };

  const flag = (err) => {
    errors.replaceChildren(...(err.issues.length ? err.issues : [{ message: err.message }])
      .map((i) => el("li", { text: `${i.message}${i.rule ? ` [${i.rule}]` : ""} — refused` })));
    for (const issue of err.issues) {
      const cell = findCell(issue.element || []);
      if (cell) {
        cell.getElement().classList.add("mp-refused");
        cell.getElement().setAttribute("title", issue.message);
      }
    }
  };

  const findCell = (element) => {
    if (decl.domain.length === 0 || element.length !== decl.domain.length) return null;
    const colIndex = grid.colSet ? decl.domain.indexOf(grid.colSet) : -1;
    const keys = element.filter((_, i) => i !== colIndex);
    const row = table.getRows().find((r) => grid.rowSets.every((_, i) => r.getData()[`k${i}`] === keys[i]));
    if (!row) return null;
    const field = grid.colSet ? `c${grid.cols.indexOf(element[colIndex])}` : "value";
    return row.getCell(field);
  };

  const rowKey = (row) => JSON.stringify(grid.rowSets.map((_, i) => row[`k${i}`]));
  const fields = () => (grid.colSet ? grid.cols.map((_, j) => `c${j}`) : ["value"]);

  // Show the server's values again without reloading the grid (which would clear undo).
  const refreshGrid = async () => {
    const next = layout(decl, widget);
    const sameShape = JSON.stringify(next.cols) === JSON.stringify(grid.cols)
      && JSON.stringify(next.rows.map((r) => grid.rowSets.map((_, i) => r[`k${i}`])))
         === JSON.stringify(grid.rows.map((r) => grid.rowSets.map((_, i) => r[`k${i}`])));
    grid = next;
    snapshot = JSON.stringify(grid.rows);
    if (!ready) return;
    if (!sameShape) {
      table.destroy();
      container.replaceChildren();
      makeTable(container, decl, widget, errors);
      return;
    }
    const byKey = new Map(grid.rows.map((r) => [rowKey(r), r]));
    for (const row of table.getRows()) {
      const fresh = byKey.get(rowKey(row.getData()));
      const current = row.getData();
      if (fresh && fields().some((f) => (current[f] ?? null) !== (fresh[f] ?? null))) {
        await row.update(fresh);
      }
      row.getCells().forEach((c) => { c.getElement().classList.remove("mp-refused"); });
    }
  };

  if (editable) {
    table.on("cellEdited", sync);
    table.on("clipboardPasted", sync);
    table.on("historyUndo", sync);
    table.on("historyRedo", sync);
  }
  container.mpRefresh = refreshGrid;
  container.mpTable = table;
  return table;
}

function tableWidget(widget) {
  const decl = state.decls[widget.identifier];
  const box = el("section", { class: "mp-widget mp-table", "data-identifier": decl.name });
  box.append(el("h2", {}, widget.title || decl.title || decl.name,
    el("span", { class: "mp-unit", text: unitOf(decl) })));
  if (decl.kind !== "set" && decl.domain.length === 0) {   // a scalar result: show the value
    const value = el("div", { class: "mp-scalar-value", "data-identifier": decl.name });
    box.append(value);
    const refresh = () => {
      const v = state.values[decl.name];
      value.textContent = typeof v === "number"
        ? v.toLocaleString("en-US", { maximumFractionDigits: 4 }) : format(v);
    };
    refresh();
    return [box, { identifiers: new Set([decl.name]), refresh }];
  }
  const holder = el("div", {});
  const errors = el("ul", { class: "mp-errors" });
  box.append(holder, errors);
  if (decl.kind === "set" && widget.editable) box.append(setEditor(decl, errors));
  requestAnimationFrame(() => makeTable(holder, decl, widget, errors));
  const identifiers = new Set([decl.name, ...(decl.domain || [])]);
  return [box, { identifiers, refresh: () => holder.mpRefresh && holder.mpRefresh() }];
}

// A set's elements edited as text, one per line; values at dropped elements go with them.
function setEditor(decl, errors) {
  const area = el("textarea", { rows: "6", class: "mp-set-text", "data-identifier": decl.name });
  const apply = el("button", { type: "submit", text: "Apply" });
  const cancel = el("button", { type: "button", text: "Cancel" });
  const form = el("form", { class: "mp-set-form" }, area, el("div", {}, apply, cancel));
  const open = el("button", { type: "button", class: "mp-set-edit", text: "Edit elements…" });
  form.hidden = true;
  open.addEventListener("click", () => {
    area.value = setElements(decl.name).join("\n");
    form.hidden = false;
    open.hidden = true;
  });
  cancel.addEventListener("click", () => { form.hidden = true; open.hidden = false; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = area.value.split("\n").map((line) => line.trim()).filter((line) => line);
    try {
      await api("PUT", `api/data/${encodeURIComponent(decl.name)}`, { value });
      errors.replaceChildren();
      form.hidden = true;
      open.hidden = false;
      await reloadData(null);
    } catch (err) {
      errors.replaceChildren(...(err.issues.length ? err.issues : [{ message: err.message }])
        .map((i) => el("li", { text: `${i.message}${i.rule ? ` [${i.rule}]` : ""} — refused` })));
    }
  });
  return el("div", {}, open, form);
}

// --- scalars, text, charts, buttons ------------------------------------------------------

function scalarWidget(widget) {
  const decl = state.decls[widget.identifier];
  const input = el("input", { type: decl.type === "string" ? "text" : "number", step: "any",
                              "data-identifier": decl.name, id: `scalar-${decl.name}` });
  const errors = el("ul", { class: "mp-errors" });
  const box = el("section", { class: "mp-widget mp-scalar" },
    el("label", { for: input.id }, el("h2", { text: (widget.label || decl.title || decl.name) + unitOf(decl) })),
    input, errors);
  const refresh = () => { input.value = format(state.values[decl.name]); };
  input.addEventListener("change", async () => {
    const value = asNumberIfNumeric(decl, input.value);
    try {
      const answer = await api("PATCH", `api/data/${encodeURIComponent(decl.name)}`,
        { changes: [{ element: [], value }] });
      state.values[decl.name] = answer.value;
      input.classList.remove("mp-refused");
      errors.replaceChildren();
      refresh();
    } catch (err) {
      input.classList.add("mp-refused");
      errors.replaceChildren(...err.issues.map((i) => el("li", { text: `${i.message} [${i.rule}] — refused` })));
      refresh();
    }
  });
  refresh();
  return [box, { identifiers: new Set([decl.name]), refresh }];
}

function textWidget(widget) {
  const box = el("section", { class: "mp-widget mp-text" });
  for (const paragraph of widget.text.split(/\n\s*\n/)) {
    const p = el("p", {});
    paragraph.split(/(\*\*[^*]+\*\*)/).forEach((part) => {
      p.append(part.startsWith("**") && part.endsWith("**") ? el("strong", { text: part.slice(2, -2) })
        : document.createTextNode(part));
    });
    box.append(p);
  }
  return [box, null];
}

const PALETTE = ["#1f6feb", "#e8773a", "#2e9d5b", "#b04ad0", "#c9a227", "#d94c6a", "#3aa7b8"];

function chartData(decl, widget) {
  const xSet = widget.x || decl.domain[0];
  const xIndex = decl.domain.indexOf(xSet);
  const labels = setElements(xSet);
  const series = new Map();
  for (const [key, value] of entries(decl, state.values[decl.name])) {
    const name = key.filter((_, i) => i !== xIndex).join(" / ") || decl.title || decl.name;
    if (!series.has(name)) series.set(name, new Map());
    series.get(name).set(key[xIndex], Number(value) || 0);
  }
  const datasets = [...series.entries()].map(([label, points], i) => ({
    label, data: labels.map((x) => points.get(x) || 0),
    backgroundColor: PALETTE[i % PALETTE.length], borderColor: PALETTE[i % PALETTE.length],
  }));
  return { labels, datasets };
}

function chartWidget(widget) {
  const decl = state.decls[widget.identifier];
  const canvas = el("canvas", { "data-identifier": decl.name });
  const box = el("section", { class: "mp-widget mp-chart-box", "data-identifier": decl.name },
    el("h2", { text: widget.title || decl.title || decl.name }), el("div", { class: "mp-chart" }, canvas));
  const stacked = widget.chart === "bar" && decl.domain.length > 1;
  const chart = new Chart(canvas, {
    type: widget.chart, data: chartData(decl, widget),
    options: { animation: false, responsive: true, maintainAspectRatio: false,
               scales: widget.chart === "pie" ? {} : { x: { stacked }, y: { stacked, beginAtZero: true } } },
  });
  const refresh = () => { chart.data = chartData(decl, widget); chart.update(); };
  box.mpChart = chart;
  return [box, { identifiers: new Set([decl.name, ...decl.domain]), refresh }];
}

function buttonWidget(widget) {
  const proc = state.procs[widget.procedure];
  const label = widget.label || proc.title || proc.name;
  const button = el("button", { type: "button", "data-procedure": proc.name, text: label });
  if (proc.kind !== "solve") {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try { await api("POST", `api/procedures/${encodeURIComponent(proc.name)}`); showMessage(""); }
      catch (err) { showMessage(`${label}: ${err.message}`); }
      finally { button.disabled = false; }
    });
    return [el("section", { class: "mp-widget mp-button" }, button), null];
  }
  const bar = el("progress", { max: "1", value: "0", class: "mp-job-progress" });
  const text = el("span", { class: "mp-job-text", "data-procedure": proc.name });
  const box = el("section", { class: "mp-widget mp-solve" }, button, bar, text);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const answer = await api("POST", `api/procedures/${encodeURIComponent(proc.name)}`);
      showJob(answer.job);
    } catch (err) {
      showMessage(`${label}: ${err.message}`);
      button.disabled = false;
    }
  });
  state.solveViews.push({
    show(job) {
      if (job.procedure !== proc.name) return;
      const over = job.loaded || job.error || ["failed", "cancelled"].includes(job.state);
      button.disabled = !over;
      bar.value = job.progress || 0;
      text.textContent = job.error ? job.error
        : job.loaded ? `solved: ${job.message || job.state}`
        : `${job.state} ${Math.round((job.progress || 0) * 100)}% ${job.message || ""}`;
      text.dataset.state = job.loaded ? "loaded" : job.state;
    },
  });
  return [box, null];
}

function showJob(job) {
  if (!job) return;
  document.getElementById("jobline").hidden = false;
  document.getElementById("job-state").textContent = job.loaded ? "solved" : job.state;
  document.getElementById("job-progress").value = job.progress || 0;
  document.getElementById("job-message").textContent = job.error || job.message || "";
  state.solveViews.forEach((view) => view.show(job));
}

// --- pages ------------------------------------------------------------------------------

const RENDER = { table: tableWidget, scalar: scalarWidget, text: textWidget,
                 chart: chartWidget, button: buttonWidget };

function renderPages() {
  const tabs = document.getElementById("tabs");
  const pages = document.getElementById("pages");
  state.app.pages.forEach((page, index) => {
    const section = el("section", { class: "mp-page", id: `page-${page.name}`, "data-page": page.name });
    section.hidden = index !== 0;
    for (const widget of page.widgets) {
      const [node, live] = RENDER[widget.widget](widget);
      section.append(node);
      if (live) state.widgets.push(live);
    }
    const tab = el("button", { type: "button", "data-page": page.name, text: page.title,
                               class: index === 0 ? "mp-active" : "" });
    tab.addEventListener("click", () => {
      for (const other of pages.children) other.hidden = other !== section;
      for (const other of tabs.children) other.classList.toggle("mp-active", other === tab);
      section.querySelectorAll(".mp-table > div").forEach((h) => h.mpTable && h.mpTable.redraw(true));
    });
    tabs.append(tab);
    pages.append(section);
  });
}

async function reloadData(names) {
  const snapshot = await api("GET", "api/data");
  state.values = snapshot.values;
  state.revision = snapshot.revision;
  const changed = names ? new Set(names) : null;
  for (const widget of state.widgets) {
    if (!changed || [...widget.identifiers].some((n) => changed.has(n))) widget.refresh();
  }
}

function showStatus(status) {
  if (!status) return;
  const name = status.case && status.case.name;
  document.getElementById("case-name").textContent = name || "(not saved)";
  document.getElementById("case-dirty").hidden = !status.dirty;
  if (status.job) showJob(status.job);
}

// --- live updates -----------------------------------------------------------------------

let retry = 0;

function connect() {
  const url = new URL("ws", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(url);
  const conn = document.getElementById("conn");
  socket.addEventListener("open", () => {
    retry = 0;
    conn.textContent = "live";
    conn.className = "mp-conn mp-conn-up";
  });
  socket.addEventListener("message", (event) => onLive(JSON.parse(event.data)));
  socket.addEventListener("close", () => {
    conn.textContent = "reconnecting…";
    conn.className = "mp-conn mp-conn-down";
    retry += 1;
    setTimeout(connect, Math.min(10000, 250 * 2 ** Math.min(retry, 6)));
  });
}

async function onLive(message) {
  if (message.type === "hello") {           // (re)connected: catch up on what was missed
    showStatus(message);
    if (message.revision !== state.revision) await reloadData(null);
  } else if (message.type === "data_changed") {
    document.getElementById("case-dirty").hidden = !message.dirty;
    if (message.revision !== state.revision) await reloadData(message.identifiers);
  } else if (message.type === "job") {
    showJob(message);
  } else if (message.type === "case") {
    showStatus(message);
  } else if (message.type === "notice") {
    const notice = document.getElementById("notice");
    notice.textContent = message.message;
    notice.className = `mp-notice mp-${message.level || "info"}`;
    notice.hidden = false;
  }
}

// --- the case menu ----------------------------------------------------------------------

function panels(open) {
  for (const id of ["open-panel", "save-as-panel"]) document.getElementById(id).hidden = id !== open;
}

// A case panel's form: send it, show the case status it answers, close the panels, then
// `after`; a refusal shows as "label: message" and leaves the panel open.
function onPanelSubmit(formId, label, send, after = async () => {}) {
  document.getElementById(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      showStatus(await send());
      panels(null);
      showMessage("");
      await after();
    } catch (err) { showMessage(`${label}: ${err.message}`); }
  });
}

function caseMenu() {
  document.querySelectorAll(".mp-cancel").forEach((b) => b.addEventListener("click", () => panels(null)));
  document.getElementById("case-open").addEventListener("click", async () => {
    try {
      const found = await api("GET", "api/cases");
      const select = document.getElementById("open-select");
      select.replaceChildren(...found.cases.map((c) =>
        el("option", { value: c.case_id, text: c.autosave ? `${c.name} (autosave)` : c.name })));
      panels("open-panel");
    } catch (err) { showMessage(`Open: ${err.message}`); }
  });
  onPanelSubmit("open-form", "Open",
    () => api("POST", "api/case/open", { case_id: document.getElementById("open-select").value }),
    () => reloadData(null));
  document.getElementById("case-save").addEventListener("click", async () => {
    try { showStatus(await api("POST", "api/case/save")); showMessage(""); }
    catch (err) {
      if (err.code === "invalid") panels("save-as-panel");
      else showMessage(`Save: ${err.message}`);
    }
  });
  document.getElementById("case-save-as").addEventListener("click", () => panels("save-as-panel"));
  onPanelSubmit("save-as-form", "Save as",
    () => api("POST", "api/case/save-as", { name: document.getElementById("save-as-name").value }));
}

async function main() {
  try {
    const described = await api("GET", "api/app");
    state.app = described.app;
    for (const decl of state.app.identifiers) state.decls[decl.name] = decl;
    for (const proc of state.app.procedures) state.procs[proc.name] = proc;
    document.getElementById("app-title").textContent = state.app.title;
    document.title = `${state.app.title} — Modelport`;
    const snapshot = await api("GET", "api/data");
    state.values = snapshot.values;
    state.revision = snapshot.revision;
    renderPages();
    caseMenu();
    showStatus(described.status);
    connect();
    document.body.dataset.ready = "true";
  } catch (err) {
    showMessage(`The session could not be loaded: ${err.message}`);
  }
}

document.addEventListener("DOMContentLoaded", main);
