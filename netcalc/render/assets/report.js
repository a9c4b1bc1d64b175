// netcalc report: draws the embedded JSON (see netcalc/render/html.py). No framework, no network access.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("netcalc-data").textContent);
  const NODE_W = 150, NODE_H = 44, COL_W = 170, ROW_H = 62, MARGIN = 26, LABEL_H = 14;
  const BIG = 400; // networks with more layers open folded one level deep
  const FAMILY = {
    conv: "conv", conv_transpose: "conv", fc: "fc",
    maxpool: "pool", avgpool: "pool", adaptive_avgpool: "pool", global_avgpool: "pool", global_maxpool: "pool",
    batchnorm: "norm", groupnorm: "norm", instancenorm: "norm", layernorm: "norm", lrn: "norm", scale: "norm",
    concat: "merge", add: "merge", multiply: "merge",
    relu: "act", relu6: "act", leaky_relu: "act", sigmoid: "act", tanh: "act", softmax: "act", hardswish: "act",
    hardsigmoid: "act", silu: "act", gelu: "act", elu: "act", prelu: "act",
  };
  const KNOWN = new Set(["name", "kind", "inputs", "output_shape", "params", "buffers", "macs", "flops",
    "activation_bytes", "param_bytes", "block", "file", "line", "notes", "groups"]);
  const EXTRA_COLUMNS = { live_bytes: "Live", saved_bytes: "Saved" };
  const app = document.getElementById("app");

  // --- figures: integers past 2^53 arrive as decimal strings (netcalc/render/html.py), exact to the last digit ---
  const isFigure = (v) => typeof v === "number" || (typeof v === "string" && /^-?[0-9]+$/.test(v));
  const N = (v) => (typeof v === "string" && isFigure(v) ? Number(v) : v);  // for arithmetic: ratios, bars, units
  function addExact(a, b) {  // an exact sum; a string when it passes 2^53
    const sum = BigInt(a) + BigInt(b);
    return sum <= BigInt(Number.MAX_SAFE_INTEGER) && sum >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(sum) : sum.toString();
  }
  // A node's id in the graph: a layer's name, or for a folded group a prefix no name can hold (names have no
  // control characters), so a layer named `group:x` and a folded group `x` never share an id.
  const GROUP_ID = "\u0000group:";

  // --- formatting (the same units as the terminal table) ---
  function count(v) {
    if (v === null || v === undefined) return "";
    v = N(v);
    if (Math.abs(v) < 1000) return String(v);
    for (const [u, s] of [["T", 1e12], ["G", 1e9], ["M", 1e6], ["K", 1e3]]) if (Math.abs(v) >= s) return (v / s).toFixed(2) + u;
    return String(v);
  }
  function bytes(v) {
    v = N(v);
    if (Math.abs(v) < 1024) return v + " B";
    for (const [u, s] of [["TiB", 2 ** 40], ["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]]) if (Math.abs(v) >= s) return (v / s).toFixed(2) + " " + u;
    return v + " B";
  }
  const exact = (v) => (typeof v === "number" ? v.toLocaleString("en-US")
    : isFigure(v) ? v.replace(/\B(?=([0-9]{3})+(?![0-9]))/g, ",") : String(v));
  const shape = (s) => (Array.isArray(s) ? s.join("×") : String(s));
  const esc = (t) => String(t).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const fit = (t, n) => (t.length <= n ? t : t.slice(0, n - 1) + "…");
  const isBytes = (key) => /bytes|memory/.test(key);
  const human = (key, v) => (isBytes(key) ? bytes(v) : count(v));
  function family(kind) { return FAMILY[kind] || "other"; }

  // --- one network's view state ---
  function View(net) {
    this.net = net;
    this.layers = new Map(net.layers.map((l, i) => [l.name, Object.assign({ index: i }, l)]));
    this.groups = new Map(net.groups.map((g) => [g.name, g]));
    this.place = new Map(net.layout.nodes.map(([name, row, col]) => [name, { row, col }]));
    this.members = new Map(); // group -> layer names inside it, at any depth
    for (const l of net.layers) for (const g of l.groups) {
      if (!this.members.has(g)) this.members.set(g, []);
      this.members.get(g).push(l.name);
    }
    const deepest = Math.max(0, ...net.groups.map((g) => g.depth + 1));
    this.fold = net.layers.length > BIG ? Math.min(1, deepest) : Infinity;
    this.collapsed = new Set();
    this.applyFold();
    this.selected = null;
    this.zoom = 1;
    this.sort = { key: "index", dir: 1 };
    this.filter = "";
    // Per-layer figures beyond the summary's that earn a table column (the rest show in a layer's details).
    this.extraColumns = Object.keys(EXTRA_COLUMNS).filter((k) => net.layers.some((l) => isFigure(l[k])));
    this.hasField = net.layers.some((l) => l.receptive_field && Array.isArray(l.receptive_field.size));
    this.outputs = new Set((net.outputs || []).map((o) => o.name));
  }
  View.prototype.applyFold = function () {
    this.collapsed = new Set(this.net.groups.filter((g) => g.depth >= this.fold).map((g) => g.name));
  };
  // The outermost collapsed group holding a layer, or null when the layer itself is drawn.
  View.prototype.hiddenIn = function (name) {
    const l = this.layers.get(name);
    if (!l) return null;
    for (const g of l.groups) if (this.collapsed.has(g)) return g;
    return null;
  };
  View.prototype.groupFigures = function (g) {
    const sums = { params: 0, macs: 0, flops: 0, activation_bytes: 0 };
    for (const n of this.members.get(g) || []) for (const k in sums) sums[k] = addExact(sums[k], this.layers.get(n)[k]);
    return sums;
  };

  // Visible items: drawn layers and folded groups, each at a (row, col) of the full layout. A folded group
  // takes the place of its first member; rows left with nothing visible are removed, so folding compacts.
  View.prototype.visible = function () {
    const items = new Map();
    const inputPlace = this.place.get("input");
    items.set("input", { id: "input", kind: "input", row: inputPlace.row, col: inputPlace.col });
    for (const l of this.net.layers) {
      const g = this.hiddenIn(l.name);
      const p = this.place.get(l.name);
      if (g === null) items.set(l.name, { id: l.name, layer: l, row: p.row, col: p.col });
      else {
        const id = GROUP_ID + g;
        const have = items.get(id);
        if (!have || p.row < have.row || (p.row === have.row && p.col < have.col)) items.set(id, { id, group: g, row: p.row, col: p.col });
      }
    }
    const rows = [...new Set([...items.values()].map((i) => i.row))].sort((a, b) => a - b);
    const rowIndex = new Map(rows.map((r, i) => [r, i]));
    for (const i of items.values()) { i.r = rowIndex.get(i.row); i.x = MARGIN + i.col * COL_W; }
    // Expanded groups: their extent in visible rows and columns.
    const boxes = new Map();
    for (const item of items.values()) {
      const chain = item.layer ? item.layer.groups : item.group ? ancestorsOf(this, item.group) : [];
      for (const g of chain) {
        if (this.collapsed.has(g)) break;
        const b = boxes.get(g) || { top: Infinity, bottom: -Infinity, x0: Infinity, x1: -Infinity, depth: this.groups.get(g).depth };
        b.top = Math.min(b.top, item.r); b.bottom = Math.max(b.bottom, item.r);
        b.x0 = Math.min(b.x0, item.x); b.x1 = Math.max(b.x1, item.x + NODE_W);
        boxes.set(g, b);
      }
    }
    // Each row makes room above itself for the labels of the groups that start on it, outermost first.
    const starting = rows.map(() => []);
    for (const [g, b] of boxes) starting[b.top].push(g);
    const y = [];
    let extra = 0;
    for (let r = 0; r < rows.length; r++) {
      starting[r].sort((a, c) => boxes.get(a).depth - boxes.get(c).depth);
      extra += starting[r].length * LABEL_H;
      y.push(MARGIN + r * ROW_H + extra);
      starting[r].forEach((g, slot) => { boxes.get(g).slot = starting[r].length - slot; });
    }
    for (const i of items.values()) i.y = y[i.r];
    for (const b of boxes.values()) {
      b.y0 = y[b.top] - b.slot * LABEL_H;
      b.y1 = y[b.bottom] + NODE_H + 3 + 2 * Math.max(0, 4 - b.depth);
    }
    return { items, boxes, height: y[y.length - 1] + NODE_H + MARGIN * 2 };
  };
  View.prototype.idOf = function (name) {
    if (name === "input") return "input";
    const g = this.hiddenIn(name);
    return g === null ? name : GROUP_ID + g;
  };

  // --- drawing ---
  function edgePath(a, b) {
    const x1 = a.x + NODE_W / 2, y1 = a.y + NODE_H, x2 = b.x + NODE_W / 2, y2 = b.y;
    const skipped = b.r - a.r - 1;
    if (skipped <= 0) { const m = (y1 + y2) / 2; return `M${x1},${y1} C${x1},${m} ${x2},${m} ${x2},${y2}`; }
    const bow = NODE_W / 2 + 10 + Math.min(skipped, 8) * 3;
    return `M${x1},${y1} C${x1 + bow},${y1 + ROW_H} ${x2 + bow},${y2 - ROW_H} ${x2},${y2}`;
  }

  function drawGraph(view) {
    const { items, boxes, height } = view.visible();
    const totalMacs = N(view.net.totals.macs) || 1;
    let width = 0;
    for (const i of items.values()) width = Math.max(width, i.x + NODE_W + MARGIN + 60);
    const parts = [];
    for (const [g, b] of boxes) {  // group boxes behind everything, their labels stacked above their first row
      const pad = 3 + 3 * Math.max(0, 4 - b.depth);
      parts.push(`<rect class="group-box" x="${b.x0 - pad}" y="${b.y0}" width="${b.x1 - b.x0 + 2 * pad}" height="${b.y1 - b.y0}" rx="6"/>`);
      parts.push(`<text class="group-label" data-group="${esc(g)}" x="${b.x0 - pad + 4}" y="${b.y0 + LABEL_H - 3}"><title>${esc(g)}</title>▾ ${esc(fit(localName(view, g), 28))} · ${esc(view.groups.get(g).label)}</text>`);
    }
    const seen = new Set();
    for (const l of view.net.layers) {
      const to = view.idOf(l.name);
      for (const src of l.inputs) {
        const from = view.idOf(src);
        const key = from + "\u0000" + to;
        if (from === to || seen.has(key)) continue;
        seen.add(key);
        parts.push(`<path class="edge" d="${edgePath(items.get(from), items.get(to))}"/>`);
      }
    }
    for (const item of items.values()) parts.push(nodeSvg(view, item, totalMacs));
    const graph = app.querySelector(".graph");
    graph.innerHTML = `<svg xmlns="http://www.w3.org/2000/svg" width="${width * view.zoom}" height="${height * view.zoom}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
  }

  // A group's name inside the group that holds it (`branch2` for `inception4a.branch2`), for short labels.
  function localName(view, group) {
    const outer = ancestorsOf(view, group).pop();
    return outer && group.startsWith(outer + ".") ? group.slice(outer.length + 1) : group;
  }

  function ancestorsOf(view, group) {
    // the groups enclosing `group` (outermost first), then the group itself
    const someMember = (view.members.get(group) || [])[0];
    const chain = someMember ? view.layers.get(someMember).groups : [];
    return chain.slice(0, chain.indexOf(group));
  }

  function nodeSvg(view, item, totalMacs) {
    let lines, cls = "node", fam = "other", name, macs = 0, notes = false;
    if (item.id === "input") {
      lines = ["input", shape(view.net.input), `batch ${view.net.batch} · ${view.net.dtype}`];
      name = "input";
    } else if (item.layer) {
      const l = item.layer;
      fam = family(l.kind); macs = l.macs; notes = l.notes.length > 0; name = l.name;
      lines = [l.name, `${l.kind} · ${shape(l.output_shape)}`, l.macs ? count(l.macs) + " MACs" : l.params ? count(l.params) + " params" : ""];
    } else {
      const g = view.groups.get(item.group), sums = view.groupFigures(item.group);
      const out = g.output && view.layers.get(g.output);
      fam = "merge"; macs = sums.macs; name = item.group; cls += " folded";
      lines = ["▸ " + item.group, `${g.label}${out ? " · " + shape(out.output_shape) : ""}`, `${count(sums.macs)} MACs · ${count(sums.params)} params`];
    }
    if (notes) cls += " noted";
    if (item.layer && view.outputs.has(item.layer.name)) { cls += " output"; lines[0] = "⇥ " + lines[0]; }
    if (item.layer && item.layer.counted === false) cls += " uncounted";
    if (item.layer && item.layer.partial) cls += " partial";
    if (view.selected === name || (item.group && view.selected && view.hiddenIn(view.selected) === item.group)) cls += " selected";
    const share = Math.max(0, Math.min(1, N(macs) / totalMacs));
    const title = item.layer && notes ? `<title>${esc(item.layer.notes.join("\n"))}</title>` : "";
    return `<g class="${cls}" data-name="${esc(name)}"${item.group ? ` data-group="${esc(item.group)}"` : ""} transform="translate(${item.x},${item.y})">${title}` +
      `<rect width="${NODE_W}" height="${NODE_H}" rx="5" style="fill:var(--${fam})"/>` +
      (share > 0 ? `<rect class="cost" y="${NODE_H - 3}" width="${Math.max(1, share * NODE_W)}" height="3" rx="1"/>` : "") +
      lines.map((t, i) => t ? `<text x="6" y="${13 + 12 * i}"${i === 0 ? ' class="name"' : ""}>${esc(fit(t, 27))}</text>` : "").join("") +
      "</g>";
  }

  function columns(view) {
    const cols = [
      { key: "index", label: "#", num: true, value: (l) => l.index },
      { key: "name", label: "Layer", value: (l) => l.name },
      { key: "kind", label: "Kind", value: (l) => l.kind },
      { key: "output_shape", label: "Output", num: true, value: (l) => l.output_shape.reduce((a, b) => a * b, 1), show: (l) => shape(l.output_shape) },
      { key: "params", label: "Params", num: true, bar: true },
      { key: "macs", label: "MACs", num: true, bar: true },
      { key: "flops", label: "FLOPs", num: true },
      { key: "activation_bytes", label: "Memory", num: true, bar: true },
    ];
    for (const k of view.extraColumns) cols.push({ key: k, label: EXTRA_COLUMNS[k], num: true, bar: isBytes(k) });
    if (view.hasField) cols.push({ key: "receptive_field", label: "RF", num: true, value: fieldSize, show: (l) => fieldText(l.receptive_field) });
    for (const c of cols) {
      if (!c.value) c.value = (l) => N(l[c.key]);
      if (!c.show) c.show = c.num && c.key !== "index" ? (l) => (l[c.key] ? human(c.key, l[c.key]) : "—") : (l) => String(c.value(l));
    }
    return cols;
  }

  // Receptive field (when the report has it): {size: [h, w], jump, start}, exact fractions written as text.
  const num = (v) => (typeof v === "number" ? v : parseFloat(String(v).split("/")[0]) / (parseFloat(String(v).split("/")[1]) || 1));
  const fieldSize = (l) => (l.receptive_field ? Math.max(...l.receptive_field.size.map(num)) : 0);
  const fieldText = (f) => (f ? f.size.join("×") : "—");

  function drawChart(view) {
    const box = app.querySelector(".chart");
    if (!box || !view.hasField) return;
    const layers = view.net.layers, w = 520, h = 110, pad = 28;
    const top = Math.max(1, ...layers.map(fieldSize));
    const x = (i) => pad + (i / Math.max(1, layers.length - 1)) * (w - pad - 8);
    const y = (v) => h - 16 - (v / top) * (h - 30);
    const points = layers.map((l, i) => `${x(i).toFixed(1)},${y(fieldSize(l)).toFixed(1)}`).join(" ");
    box.innerHTML = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="receptive field by depth">` +
      `<text x="${pad}" y="11" class="axis">receptive field (input pixels, larger side) by layer — output: ${esc(fieldText(layers[layers.length - 1].receptive_field))}</text>` +
      `<line x1="${pad}" y1="${h - 16}" x2="${w - 8}" y2="${h - 16}" class="axis-line"/><line x1="${pad}" y1="18" x2="${pad}" y2="${h - 16}" class="axis-line"/>` +
      `<text x="2" y="24" class="axis">${top}</text><text x="${pad}" y="${h - 3}" class="axis">layer 0</text><text x="${w - 60}" y="${h - 3}" class="axis">${layers.length - 1}</text>` +
      `<polyline points="${points}" class="rf-line"/></svg>`;
  }

  function drawTable(view) {
    const cols = columns(view);
    const maxima = {};
    for (const c of cols) if (c.bar) maxima[c.key] = Math.max(1, ...view.net.layers.map((l) => N(l[c.key]) || 0));
    const needle = view.filter.toLowerCase();
    let rows = [...view.layers.values()];
    if (needle) rows = rows.filter((l) => l.name.toLowerCase().includes(needle) || l.kind.toLowerCase().includes(needle));
    const col = cols.find((c) => c.key === view.sort.key) || cols[0];
    rows.sort((a, b) => {
      const x = col.value(a), y = col.value(b);
      return (x < y ? -1 : x > y ? 1 : a.index - b.index) * view.sort.dir;
    });
    const head = cols.map((c) => `<th data-key="${c.key}" class="${c.num ? "num" : ""}"${view.sort.key === c.key ? ` aria-sort="${view.sort.dir > 0 ? "ascending" : "descending"}"` : ""}>${esc(c.label)}</th>`).join("");
    const body = rows.map((l) => `<tr data-name="${esc(l.name)}"${view.selected === l.name ? ' class="selected"' : ""}>` + cols.map((c) => {
      const bar = c.bar && l[c.key] ? ` bar" style="background-size:${(100 * N(l[c.key]) / maxima[c.key]).toFixed(1)}% 100%` : "";
      return `<td class="${c.num ? "num" : ""}${bar}">${esc(c.show(l))}</td>`;
    }).join("") + "</tr>").join("");
    app.querySelector(".table-wrap").innerHTML = `<table class="layers"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
  }

  function drawDetails(view) {
    const box = app.querySelector(".details");
    const l = view.selected && view.layers.get(view.selected);
    if (!l) { box.innerHTML = `<span class="muted">Click a layer in the graph or the table for its figures. Click a group's label to fold it.</span>`; return; }
    const rows = [["kind", esc(l.kind)], ["inputs", esc(l.inputs.join(", "))], ["output", esc(shape(l.output_shape))]];
    for (const k of ["params", "buffers", "macs", "flops", "activation_bytes", "param_bytes", ...Object.keys(l).filter((k) => !KNOWN.has(k) && k !== "index")]) {
      const v = l[k];
      if (isFigure(v) && k !== "name") {
        const short = k === "line" || human(k, v) === exact(v) ? "" : human(k, v);
        rows.push([k.replace(/_/g, " "), `${exact(v)} <span class="muted">${esc(short)}</span>`]);
      }
      else if (k === "receptive_field" && v) rows.push(["receptive field", esc(`${v.size.join("×")} px, jump ${v.jump.join("×")}, first centre at ${v.start.join(", ")}${v.note ? " — " + v.note : ""}`)]);
      else if (v !== null && v !== undefined) rows.push([k.replace(/_/g, " "), esc(typeof v === "object" ? JSON.stringify(v) : v)]);
    }
    if (l.file || l.line) rows.push(["defined at", esc(`${l.file || ""}${l.line ? ":" + l.line : ""}`)]);
    if (l.groups.length) rows.push(["inside", esc(l.groups.map((g) => `${g} (${view.groups.get(g).label})`).join(" › "))]);
    for (const n of l.notes) rows.push(["note", esc(n)]);
    box.innerHTML = `<h2>${esc(l.name)}</h2><table>${rows.map(([k, v]) => `<tr><td class="muted">${esc(k)}</td><td>${v}</td></tr>`).join("")}</table>`;
  }

  function select(view, name, scroll) {
    view.selected = name;
    let g = view.hiddenIn(name);
    while (scroll && g !== null) { view.collapsed.delete(g); g = view.hiddenIn(name); }
    drawGraph(view); drawTable(view); drawDetails(view);
    if (!scroll) return;
    const node = app.querySelector(`.graph .node[data-name="${cssEscape(name)}"]`);
    const row = app.querySelector(`.table-wrap tr[data-name="${cssEscape(name)}"]`);
    if (node) node.scrollIntoView({ block: "center", inline: "center" });
    if (row) row.scrollIntoView({ block: "nearest" });
  }
  const cssEscape = (s) => (window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, "\\$&"));

  function summaryHtml(net) {
    const t = net.totals;
    const figures = [["Params", exact(t.params), count(t.params)], ["MACs", exact(t.macs), count(t.macs)],
      ["FLOPs", exact(t.flops), count(t.flops)]];
    if (isFigure(t.live_bytes)) figures.push(["Peak memory", `${exact(t.live_bytes)} B, at ${t.peak_layer || "?"} (inference, tensors alive at once)`, bytes(t.live_bytes)]);
    figures.push(["Activations", `${exact(t.activation_bytes)} B: the sum of every layer's output`, bytes(t.activation_bytes)],
      ["Param memory", exact(t.param_bytes) + " B", bytes(t.param_bytes)], ["Buffers", exact(t.buffers), count(t.buffers)]);
    if (isFigure(t.backward_input_macs)) {
      const back = addExact(t.backward_input_macs, t.backward_weight_macs);
      figures.push(["Backward MACs", `input gradients ${exact(t.backward_input_macs)}, weight gradients ${exact(t.backward_weight_macs)}`, count(back)]);
    }
    if (isFigure(t.saved_bytes)) figures.push(["Saved for backward", exact(t.saved_bytes) + " B", bytes(t.saved_bytes)]);
    if (t.receptive_field && t.receptive_field.size) figures.push(["Receptive field", `jump ${t.receptive_field.jump.join("×")}`, t.receptive_field.size.join("×")]);
    if (t.partial) for (const f of figures) f[2] = "≥ " + f[2];  // a layer of unknown cost: the totals are lower bounds
    const outs = net.outputs || [];
    const head = [["Input", `batch ${net.batch} · ${net.dtype}`, shape(net.input)],
      outs.length > 1 ? [`${outs.length} outputs`, outs.map((o) => `${o.name}: ${shape(o.shape)}`).join("\n"), outs.map((o) => shape(o.shape)).join(", ")]
        : ["Output", `${net.layers.length} layers`, shape(net.output_shape)]];
    return [...head, ...figures].map(([k, v, h]) => `<div class="figure" title="${esc(v)}"><span>${esc(k)}</span><b>${esc(h)}</b></div>`).join("");
  }

  function show(view) {
    const net = view.net;
    const notes = net.layers.flatMap((l) => l.notes.map((n) => `<div>⚠ <a href="#" data-name="${esc(l.name)}">${esc(l.name)}</a>: ${esc(n)}</div>`));
    const depths = Math.max(0, ...net.groups.map((g) => g.depth + 1));
    const foldOptions = [`<option value="all">everything</option>`];
    for (let d = 0; d < depths; d++) foldOptions.push(`<option value="${d}"${view.fold === d ? " selected" : ""}>${d === 0 ? "all groups" : "below depth " + d}</option>`);
    app.innerHTML = `<section class="summary">${summaryHtml(net)}</section>` +
      (notes.length ? `<section class="notes">${notes.join("")}</section>` : "") +
      `<div class="panes"><section class="graph-pane"><div class="tools">` +
      `<button data-zoom="0.8" title="zoom out">−</button><button data-zoom="1.25" title="zoom in">+</button><button data-zoom="fit">fit width</button>` +
      (depths ? `<label>fold <select class="fold">${foldOptions.join("")}</select></label>` : "") +
      `</div><div class="graph" aria-label="network graph"></div></section>` +
      `<section class="side"><div class="details"></div><div class="tools"><input type="search" placeholder="filter layers by name or kind" aria-label="filter"></div><div class="table-wrap"></div>` +
      (view.hasField ? `<div class="chart"></div>` : "") + `</section></div>`;
    if (view.fold === Infinity && app.querySelector(".fold")) app.querySelector(".fold").value = "all";
    drawGraph(view); drawTable(view); drawDetails(view); drawChart(view);

    app.querySelector(".graph").addEventListener("click", (e) => {
      const label = e.target.closest(".group-label");
      if (label) { view.collapsed.add(label.dataset.group); drawGraph(view); return; }
      const node = e.target.closest(".node");
      if (!node) return;
      if (node.dataset.group) { view.collapsed.delete(node.dataset.group); drawGraph(view); return; }
      if (node.dataset.name !== "input") select(view, node.dataset.name, false);
    });
    app.querySelector(".table-wrap").addEventListener("click", (e) => {
      const th = e.target.closest("th");
      if (th) { view.sort = { key: th.dataset.key, dir: view.sort.key === th.dataset.key ? -view.sort.dir : 1 }; drawTable(view); return; }
      const tr = e.target.closest("tr[data-name]");
      if (tr) select(view, tr.dataset.name, true);
    });
    const notesBox = app.querySelector(".notes");
    if (notesBox) notesBox.addEventListener("click", (e) => {
      const a = e.target.closest("a[data-name]");
      if (a) { e.preventDefault(); select(view, a.dataset.name, true); }
    });
    app.querySelector("input[type=search]").addEventListener("input", (e) => { view.filter = e.target.value; drawTable(view); });
    const fold = app.querySelector(".fold");
    if (fold) fold.addEventListener("change", (e) => {
      view.fold = e.target.value === "all" ? Infinity : Number(e.target.value);
      view.applyFold(); drawGraph(view);
    });
    for (const b of app.querySelectorAll("[data-zoom]")) b.addEventListener("click", () => {
      const svg = app.querySelector(".graph svg");
      const natural = svg.viewBox.baseVal.width;
      view.zoom = b.dataset.zoom === "fit" ? app.querySelector(".graph").clientWidth / natural : view.zoom * Number(b.dataset.zoom);
      view.zoom = Math.max(0.05, Math.min(4, view.zoom));
      drawGraph(view);
    });
  }

  function showComparison() {
    const nets = DATA.networks, base = nets[0].totals;
    // [key, label, whether a layer of unknown cost (counted as 0) makes it a lower bound]
    const figs = [["params", "Params", true], ["macs", "MACs", true], ["flops", "FLOPs", true], ["activation_bytes", "Activations", false], ["param_bytes", "Param memory", true]];
    const head = `<tr><th>Network</th><th>Input</th><th>Output</th><th>Layers</th>${figs.map(([, l]) => `<th>${l}</th><th>× ${esc(nets[0].name)}</th>`).join("")}</tr>`;
    // a lower bound over an exact figure is a lower bound, an exact one over a lower bound an upper bound
    const ratio = (n, k, lower) => {
      if (!N(base[k])) return "—";
      const mine = lower && n.totals.partial && n !== nets[0], theirs = lower && base.partial && n !== nets[0];
      if (mine && theirs) return "?";
      return (mine ? "≥ " : theirs ? "≤ " : "") + (N(n.totals[k]) / N(base[k])).toFixed(2);
    };
    const mark = (n, lower) => (lower && n.totals.partial ? "≥ " : "");
    const body = nets.map((n) => `<tr><td>${esc(n.name)}${n.totals.partial ? ' <span class="muted">(partial)</span>' : ""}</td><td>${shape(n.input)}</td><td>${shape(n.output_shape)}</td><td>${n.layers.length}</td>` +
      figs.map(([k, , lower]) => `<td title="${mark(n, lower)}${exact(n.totals[k])}">${mark(n, lower)}${human(k, n.totals[k])}</td><td>${ratio(n, k, lower)}</td>`).join("") + "</tr>").join("");
    const partial = nets.filter((n) => n.totals.partial).map((n) => n.name);
    const note = partial.length ? `<p class="muted">≥ partial: ${esc(partial.join(", "))} ${partial.length === 1 ? "holds" : "hold"} layers of unknown cost counted as 0; their params, MACs, FLOPs and parameter memory are lower bounds.</p>` : "";
    app.innerHTML = `<section class="compare"><h2>Side by side</h2><table><thead>${head}</thead><tbody>${body}</tbody></table>${note}</section>`;
  }

  const views = DATA.networks.map((n) => new View(n));
  const tabs = document.getElementById("tabs");
  function activate(i) {
    for (const [j, b] of [...tabs.children].entries()) b.classList.toggle("active", j === i);
    if (i < views.length) show(views[i]); else showComparison();
  }
  if (views.length > 1) {
    tabs.innerHTML = views.map((v, i) => `<button data-tab="${i}">${esc(v.net.name)}</button>`).join("") + `<button data-tab="${views.length}">compare</button>`;
    tabs.addEventListener("click", (e) => { const b = e.target.closest("button"); if (b) activate(Number(b.dataset.tab)); });
  }
  activate(views.length > 1 ? views.length : 0);
  document.body.dataset.ready = "true";
})();
