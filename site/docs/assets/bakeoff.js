/* bakeoff site: charts, sortable tables, the run index, run pages and the compare view.
 *
 * Works opened from disk (file://) and over HTTP alike: data files are scripts
 * (data/<key>.js calls __bakeoffData(key, payload)) loaded with <script>, never fetched, and
 * plotly.js is loaded the same way, only when a page draws a chart.
 *
 * Material's instant navigation swaps page content without reloading, so everything here
 * runs from `document$.subscribe` (fired on every page load, instant or not). Charts are
 * drawn only when visible; charts in a content tab are drawn or resized when the tab is
 * shown. Run-sourced strings are inserted with textContent only, never innerHTML.
 */
(function () {
  "use strict";

  /* assets/ of this site, from this script's own address (the same on every page). */
  var ASSETS = (function () {
    var s = document.currentScript;
    return s && s.src ? s.src.replace(/[^\/]*$/, "") : "assets/";
  })();
  var PLOTLY = ASSETS + "vendor/plotly-cartesian.min.js";
  var ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

  /* ---------------------------------------------------------------- data files */

  var store = {}; /* key -> {state, value, waiters} */

  window.__bakeoffData = function (key, payload) {
    var entry = store[key] || (store[key] = { waiters: [] });
    entry.state = "ok";
    entry.value = payload;
    var waiters = entry.waiters;
    entry.waiters = [];
    waiters.forEach(function (w) { w.resolve(payload); });
  };

  function dataKey(url) {
    var m = /(?:^|\/)data\/(.+)\.js(?:\?.*)?$/.exec(url);
    return m ? m[1] : url;
  }

  function addScript(src, onload, onerror) {
    var s = document.createElement("script");
    s.src = src;
    s.async = true;
    s.onload = function () { s.remove(); onload(); };
    s.onerror = function () { s.remove(); onerror(); };
    document.head.appendChild(s);
  }

  /* The payload of one data file (cached: each file is loaded once per visit). */
  function loadData(url) {
    var key = dataKey(url);
    var entry = store[key] || (store[key] = { waiters: [] });
    if (entry.state === "ok") return Promise.resolve(entry.value);
    return new Promise(function (resolve, reject) {
      entry.waiters.push({ resolve: resolve, reject: reject });
      if (entry.state === "loading") return;
      entry.state = "loading";
      function fail(message) {
        entry.state = undefined;
        var waiters = entry.waiters;
        entry.waiters = [];
        waiters.forEach(function (w) { w.reject(new Error(message)); });
      }
      addScript(url, function () {
        if (entry.state !== "ok") fail(url + " holds no data");
      }, function () { fail(url + " could not be loaded"); });
    });
  }

  /* ---------------------------------------------------------------- plotly */

  var plotlyPromise = null;
  var plotlyCss = "";

  function loadPlotly() {
    if (typeof Plotly !== "undefined") return Promise.resolve(window.Plotly);
    if (!plotlyPromise) {
      plotlyPromise = new Promise(function (resolve, reject) {
        addScript(PLOTLY, function () {
          keepPlotlyCss();
          resolve(window.Plotly);
        }, function () {
          plotlyPromise = null;
          reject(new Error("plotly.js could not be loaded from " + PLOTLY));
        });
      });
    }
    return plotlyPromise;
  }

  /* plotly.js inserts its stylesheet (modebar, hover, legend) into <head> once, when it
   * loads, with insertRule. Instant navigation replaces <head> children that the next page
   * does not have, which drops that stylesheet: keep its rules as text and put them back. */
  function keepPlotlyCss() {
    var style = document.getElementById("plotly.js-style-global");
    if (style && style.sheet) {
      plotlyCss = Array.prototype.map.call(style.sheet.cssRules, function (r) { return r.cssText; }).join("\n");
    }
  }

  function ensurePlotlyCss() {
    if (!plotlyCss) return;
    var style = document.getElementById("plotly.js-style-global");
    if ((style && style.isConnected) || document.getElementById("bo-plotly-css")) return;
    var copy = document.createElement("style");
    copy.id = "bo-plotly-css";
    copy.textContent = plotlyCss;
    document.head.appendChild(copy);
  }

  /* ---------------------------------------------------------------- charts */

  var drawn = [];

  var COLORWAY = {
    light: ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#B8860B", "#56B4E9", "#7F3C8D", "#444444"],
    dark: ["#56B4E9", "#E69F00", "#66CC99", "#F0A0C8", "#F0E442", "#FF8C69", "#B39DDB", "#DDDDDD"],
  };

  function isDark() {
    return document.body.getAttribute("data-md-color-scheme") === "slate";
  }

  function applyTheme(layout) {
    var style = getComputedStyle(document.body);
    var fg = style.getPropertyValue("--md-default-fg-color").trim() || (isDark() ? "#e0e0e0" : "#222");
    var grid = isDark() ? "rgba(255,255,255,0.15)" : "rgba(0,0,0,0.12)";
    var out = JSON.parse(JSON.stringify(layout || {}));
    out.paper_bgcolor = "rgba(0,0,0,0)";
    out.plot_bgcolor = "rgba(0,0,0,0)";
    out.font = { color: fg, family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif" };
    out.colorway = isDark() ? COLORWAY.dark : COLORWAY.light;
    /* every axis of the spec (stacked panels use yaxis2, yaxis3, …) */
    var axes = Object.keys(out).filter(function (k) { return /^[xy]axis[0-9]*$/.test(k); });
    ["xaxis", "yaxis"].forEach(function (k) { if (axes.indexOf(k) < 0) axes.push(k); });
    axes.forEach(function (axis) {
      out[axis] = out[axis] || {};
      out[axis].gridcolor = grid;
      out[axis].zerolinecolor = grid;
    });
    return out;
  }

  function visible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  }

  function plot(el, spec) {
    el.__boSpecObj = spec;
    spec.layout = spec.layout || {};
    spec.layout.height = spec.layout.height || 420;
    ensurePlotlyCss();
    drawn.push(el);
    return Plotly.newPlot(el, spec.data || [], applyTheme(spec.layout), {
      responsive: true,
      displaylogo: false,
    });
  }

  function draw(el) {
    var state = el.getAttribute("data-drawn");
    if (state === "1") {
      if (visible(el) && typeof Plotly !== "undefined") Plotly.Plots.resize(el);
      return;
    }
    if (state === "loading" || state === "error" || !visible(el)) return;
    el.setAttribute("data-drawn", "loading");
    /* Chart data lives in data/charts/*.js: no page weight, loaded when first shown. */
    var src = el.getAttribute("data-src");
    var spec = src ? loadData(src) : Promise.resolve(el.__boSpec);
    Promise.all([spec, loadPlotly()]).then(function (r) {
      if (!el.isConnected) return null;
      /* a copy: plotly writes into the spec, and the cached payload is shared */
      return plot(el, JSON.parse(JSON.stringify(r[0] || {})));
    }).then(function () {
      if (el.isConnected) el.setAttribute("data-drawn", "1");
    }).catch(function (err) {
      el.setAttribute("data-drawn", "error");
      el.textContent = "The chart could not be drawn: " + err.message;
    });
  }

  function drawAll(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll(".bo-chart"), draw);
  }

  function purge() {
    drawn.forEach(function (el) {
      if (typeof Plotly !== "undefined") Plotly.purge(el);
    });
    drawn = [];
  }

  function retheme() {
    drawn.forEach(function (el) {
      if (!el.isConnected || el.getAttribute("data-drawn") !== "1") return;
      Plotly.relayout(el, applyTheme((el.__boSpecObj || {}).layout));
    });
  }

  /* ---------------------------------------------------------------- sortable tables */

  var NUMBER = /^-?[0-9][0-9,]*(\.[0-9]+)?%?$/;

  function cellValue(td) {
    var t = (td.textContent || "").trim();
    var v = td.getAttribute("data-sort");
    if (v !== null && v !== "") return { num: true, v: parseFloat(v) };
    if (NUMBER.test(t)) return { num: true, v: parseFloat(t.replace(/,/g, "")) };
    return { num: false, v: t.toLowerCase() };
  }

  function makeSortable(table) {
    if (table.getAttribute("data-sortable") === "1") return;
    table.setAttribute("data-sortable", "1");
    var headers = table.querySelectorAll("thead th");
    /* numeric columns align right, name columns may wrap (rows carry no classes, to keep
     * pages light: the header says which column is which) */
    Array.prototype.forEach.call(headers, function (th, index) {
      var cls = th.classList.contains("bo-num") ? "bo-num" : th.classList.contains("bo-wrap-col") ? "bo-wrap-cell" : "";
      if (!cls) return;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        if (row.cells[index]) row.cells[index].classList.add(cls);
      });
    });
    Array.prototype.forEach.call(headers, function (th, index) {
      th.setAttribute("role", "button");
      th.setAttribute("tabindex", "0");
      function sort() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a.cells[index]), y = cellValue(b.cells[index]);
          var r;
          if (x.num && y.num) r = x.v - y.v;
          else if (x.num !== y.num) r = x.num ? -1 : 1; /* numbers before dashes */
          else r = x.v < y.v ? -1 : x.v > y.v ? 1 : 0;
          if (x.num !== y.num) return r;
          return asc ? r : -r;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sort(); }
      });
    });
  }

  /* ---------------------------------------------------------------- DOM helpers */

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return el;
  }

  function text(v, digits) {
    if (v === null || v === undefined || v === "") return "—";
    if (typeof v === "number") {
      if (digits !== undefined && digits >= 0) {
        return v.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
      }
      return Number.isInteger(v) ? v.toLocaleString("en") : v.toFixed(2);
    }
    if (typeof v === "boolean") return v ? "yes" : "no";
    return String(v);
  }

  /* Links come from the generator; refuse anything with a scheme or an absolute path. */
  function safeHref(href) {
    return typeof href === "string" && /^[A-Za-z0-9._\/?=,-]+$/.test(href) && href.indexOf("//") < 0
      ? href : null;
  }

  function link(label, href, title) {
    var ok = safeHref(href);
    if (!ok) return document.createTextNode(label);
    var a = h("a", { href: ok }, [label]);
    if (title) a.setAttribute("title", title);
    return a;
  }

  /* A system named as everywhere: hardware class (a link) and, under it, its label. */
  function systemNode(hwClass, label, href) {
    var span = h("span", {}, [link(hwClass || "unknown hardware", href)]);
    span.appendChild(h("br"));
    span.appendChild(h("span", { class: "bo-sub" }, [label || ""]));
    return span;
  }

  /* columns: [{title, numeric, wrap}] or titles; rows: arrays of values or DOM nodes. */
  function dataTable(columns, rows, digits) {
    var cols = columns.map(function (c) { return typeof c === "string" ? { title: c } : c; });
    var head = h("tr", {}, cols.map(function (c) {
      var th = h("th", c.hint ? { title: c.hint } : {}, [c.title]);
      if (c.numeric) th.className = "bo-num";
      return th;
    }));
    var body = h("tbody", {}, rows.map(function (row) {
      return h("tr", {}, row.map(function (v, i) {
        var td = h("td", {});
        if (v instanceof Node) {
          td.appendChild(v);
          if (cols[i].wrap) td.className = "bo-wrap-cell";
        } else {
          if (typeof v === "number") { td.setAttribute("data-sort", String(v)); td.className = "bo-num"; }
          else if (cols[i].wrap) td.className = "bo-wrap-cell";
          td.appendChild(document.createTextNode(text(v, digits ? digits[i] : undefined)));
        }
        return td;
      }));
    }));
    var table = h("table", { class: "bo-table" }, [h("thead", {}, [head]), body]);
    makeSortable(table);
    return h("div", { class: "bo-table-wrap" }, [table]);
  }

  function fail(el, message) {
    el.textContent = "";
    el.appendChild(h("p", { class: "bo-error" }, [message]));
  }

  /* The run index: {columns, rows} as objects. */
  function runRecords(index) {
    return index.rows.map(function (row) {
      var r = {};
      index.columns.forEach(function (c, i) { r[c] = row[i]; });
      return r;
    });
  }

  /* ---------------------------------------------------------------- run index */

  function runIndex(el) {
    loadData(el.getAttribute("data-src")).then(function (index) {
      if (!el.isConnected) return;
      el.textContent = "";
      var runs = runRecords(index);
      var input = h("input", { type: "search", class: "bo-filter", placeholder: "Filter runs (id, system, model, engine)", "aria-label": "Filter runs" });
      var count = h("span", { class: "bo-count-note" }, []);
      var columns = [
        { title: "Run" }, { title: "Started" }, { title: "Mode" }, { title: "Comparable", wrap: true },
        { title: "System", wrap: true }, { title: "Models", wrap: true }, { title: "Engines", wrap: true },
        { title: "Calls ok", numeric: true }, { title: "Calls", numeric: true },
      ];
      var rows = runs.map(function (r) {
        return [
          link(r.run_id, r.link_id ? "view.html?id=" + r.link_id : null),
          r.started_at, r.mode, r.comparable_text,
          systemNode(r.hardware_class, r.system_label, "../systems/" + r.system_page),
          r.models, r.engines, r.calls_ok, r.calls_total,
        ];
      });
      var wrap = dataTable(columns, rows);
      var trs = wrap.querySelectorAll("tbody tr");
      runs.forEach(function (r, i) { if (!r.comparable) trs[i].classList.add("bo-not-comparable"); });
      function filter() {
        var q = input.value.trim().toLowerCase(), shown = 0;
        Array.prototype.forEach.call(trs, function (tr) {
          var hit = !q || tr.textContent.toLowerCase().indexOf(q) >= 0;
          tr.hidden = !hit;
          if (hit) shown++;
        });
        count.textContent = " " + shown + " of " + trs.length + " runs";
      }
      input.addEventListener("input", filter);
      el.appendChild(h("p", {}, [input, count]));
      el.appendChild(wrap);
      filter();
    }).catch(function (err) { fail(el, "Could not load the run index: " + err.message); });
  }

  /* ---------------------------------------------------------------- run page */

  function resultsTable(block, results) {
    var columns = block.columns.map(function (c) {
      return { title: c[0], numeric: c[2] >= 0, wrap: c[1] === "engine" || c[1] === "model" };
    });
    var rows = results.map(function (r) {
      return block.columns.map(function (c) { return r[c[1]] === undefined ? null : r[c[1]]; });
    });
    return dataTable(columns, rows, block.columns.map(function (c) { return c[2]; }));
  }

  function runPage(el) {
    var id = new URLSearchParams(location.search).get("id") || "";
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) {
      fail(el, "No run selected: open a run from the run index.");
      return;
    }
    loadData(el.getAttribute("data-src") + id + ".js").then(function (doc) {
      if (!el.isConnected) return;
      el.textContent = "";
      var title = document.querySelector("article h1");
      if (title) title.textContent = "Run " + doc.run_id;
      document.title = "Run " + doc.run_id + " - bakeoff";
      doc.blocks.forEach(function (block) {
        if (block.kind === "link") {
          el.appendChild(h("p", {}, [link(block.text, block.href)]));
          return;
        }
        if (block.kind === "notice") {
          el.appendChild(h("div", { class: "admonition warning bo-notice" }, [
            h("p", { class: "admonition-title" }, ["Not comparable"]),
            h("p", {}, [block.text]),
          ]));
          return;
        }
        el.appendChild(h("h2", {}, [block.title]));
        if (block.kind === "kv") {
          el.appendChild(h("table", { class: "bo-kv" }, [h("tbody", {}, block.rows.map(function (r) {
            return h("tr", {}, [h("th", {}, [r[0]]), h("td", {}, [text(r[1])])]);
          }))]));
        } else if (block.kind === "results") {
          el.appendChild(resultsTable(block, doc.results));
        } else if (block.kind === "table") {
          el.appendChild(dataTable(block.columns, block.rows));
        } else if (block.kind === "chart") {
          var div = h("div", { class: "bo-chart", role: "img", "aria-label": block.title });
          div.__boSpec = block.spec;
          el.appendChild(div);
        }
      });
      drawAll(el);
    }).catch(function (err) { fail(el, "Could not load the run " + id + ": " + err.message); });
  }

  /* ---------------------------------------------------------------- compare view */

  function listParam(params, name) {
    return (params.get(name) || "").split(",").filter(function (v) { return ID.test(v); });
  }

  function resultLabel(r) {
    return r.workload_id + " · " + r.max_tokens + " tok · c" + r.concurrency + " · " +
      r.engine + " · " + r.model + (r.quantization ? " (" + r.quantization + ")" : "");
  }

  function comparePage(el) {
    var maxItems = parseInt(el.getAttribute("data-max") || "4", 10);
    var systemRuns = parseInt(el.getAttribute("data-system-runs") || "5", 10);
    var runsDir = el.getAttribute("data-runs");
    loadData(el.getAttribute("data-src")).then(function (index) {
      if (!el.isConnected) return;
      el.textContent = "";
      var runs = runRecords(index);
      var byRun = {}, systems = {}, systemOrder = [];
      runs.forEach(function (r) {
        byRun[r.run_id] = r;
        var s = systems[r.system_id];
        if (!s) {
          s = systems[r.system_id] = { id: r.system_id, hardware_class: r.hardware_class, system_label: r.system_label, page: r.system_page, runs: [] };
          systemOrder.push(s);
        }
        if (r.comparable && r.link_id) s.runs.push(r); /* the index is newest first */
      });
      var params = new URLSearchParams(location.search);
      var items = [];
      var notes = [];
      listParam(params, "systems").forEach(function (sid) {
        if (systems[sid]) items.push({ kind: "system", id: sid });
        else notes.push("No system " + sid + " in this archive.");
      });
      listParam(params, "runs").forEach(function (rid) {
        var r = byRun[rid];
        if (!r) notes.push("No run " + rid + " in this archive.");
        else if (!r.comparable) notes.push("Run " + rid + " is not comparable (" + r.comparable_text.replace(/^no: /, "") + "): it cannot be compared; its run page has its results.");
        else items.push({ kind: "run", id: rid });
      });
      items = items.slice(0, maxItems);

      var picker = h("input", { type: "search", class: "bo-filter", placeholder: "Find a system or run (label, hardware, run id, model)", "aria-label": "Find a system or run" });
      var options = h("ul", { class: "bo-compare-options" }, []);
      var chosen = h("div", { class: "bo-compare-chosen" }, []);
      var noteBox = h("div", { class: "bo-compare-notes" }, []);
      var result = h("div", { class: "bo-compare-result" }, []);
      el.appendChild(h("p", {}, [picker]));
      el.appendChild(options);
      el.appendChild(chosen);
      el.appendChild(noteBox);
      el.appendChild(result);

      function itemLabel(item) {
        if (item.kind === "system") {
          var s = systems[item.id];
          return "system " + (s.hardware_class || "unknown hardware") + " · " + s.system_label;
        }
        var r = byRun[item.id];
        return "run " + r.run_id + " · " + r.system_label;
      }

      function has(kind, id) {
        return items.some(function (i) { return i.kind === kind && i.id === id; });
      }

      function saveUrl() {
        var p = new URLSearchParams();
        var s = items.filter(function (i) { return i.kind === "system"; }).map(function (i) { return i.id; });
        var r = items.filter(function (i) { return i.kind === "run"; }).map(function (i) { return i.id; });
        if (s.length) p.set("systems", s.join(","));
        if (r.length) p.set("runs", r.join(","));
        var query = p.toString().replace(/%2C/g, ",");
        history.replaceState(history.state, "", location.pathname + (query ? "?" + query : ""));
      }

      function renderOptions() {
        options.textContent = "";
        var q = picker.value.trim().toLowerCase();
        if (!q) return;
        var found = [];
        systemOrder.forEach(function (s) {
          var hay = ("system " + s.hardware_class + " " + s.system_label + " " + s.id).toLowerCase();
          if (s.runs.length && hay.indexOf(q) >= 0) found.push({ kind: "system", id: s.id, text: "system " + s.hardware_class + " · " + s.system_label + " (" + s.runs.length + " comparable runs)" });
        });
        runs.forEach(function (r) {
          var hay = ("run " + r.run_id + " " + r.hardware_class + " " + r.system_label + " " + r.models + " " + r.engines).toLowerCase();
          if (r.comparable && r.link_id && hay.indexOf(q) >= 0) found.push({ kind: "run", id: r.run_id, text: "run " + r.run_id + " · " + r.system_label + " · " + r.models });
        });
        found.slice(0, 20).forEach(function (f) {
          var button = h("button", { type: "button", class: "md-button bo-add" }, ["Add"]);
          if (has(f.kind, f.id) || items.length >= maxItems) button.disabled = true;
          button.addEventListener("click", function () {
            if (items.length >= maxItems || has(f.kind, f.id)) return;
            items.push({ kind: f.kind, id: f.id });
            update();
          });
          options.appendChild(h("li", {}, [button, " " + f.text]));
        });
        if (!found.length) options.appendChild(h("li", {}, ["Nothing matches (runs that are not comparable are not listed)."]));
      }

      function renderChosen() {
        chosen.textContent = "";
        items.forEach(function (item, i) {
          var remove = h("button", { type: "button", class: "bo-remove", "aria-label": "Remove " + itemLabel(item) }, ["×"]);
          remove.addEventListener("click", function () { items.splice(i, 1); update(); });
          chosen.appendChild(h("span", { class: "bo-chip" }, [itemLabel(item) + " ", remove]));
        });
        if (items.length < 2) {
          chosen.appendChild(h("p", { class: "bo-note" }, [
            items.length ? "Add at least one more system or run to compare." : "Type above to find systems and runs to compare (two to four).",
          ]));
        }
      }

      /* results by signature of one item: a run's warm results, or a system's newest
       * result per signature from its newest comparable runs */
      function resultsOf(item) {
        var ids = item.kind === "run" ? [item.id] : systems[item.id].runs.slice(0, systemRuns).map(function (r) { return r.run_id; });
        return Promise.all(ids.map(function (rid) { return loadData(runsDir + rid + ".js"); })).then(function (docs) {
          var out = {};
          docs.forEach(function (doc) {
            doc.results.forEach(function (r) {
              if (!out[r.signature]) out[r.signature] = { result: r, run_id: doc.run_id };
            });
          });
          return out;
        });
      }

      var generation = 0;
      function renderResult() {
        var mine = ++generation;
        result.textContent = "";
        if (items.length < 1) return;
        result.appendChild(h("p", { class: "bo-loading" }, ["Loading results…"]));
        Promise.all(items.map(resultsOf)).then(function (sets) {
          if (mine !== generation || !el.isConnected) return;
          result.textContent = "";
          var counts = {}, labels = {};
          sets.forEach(function (set) {
            Object.keys(set).forEach(function (sig) {
              counts[sig] = (counts[sig] || 0) + 1;
              labels[sig] = resultLabel(set[sig].result);
            });
          });
          var need = items.length > 1 ? 2 : 1;
          var sigs = Object.keys(counts).filter(function (s) { return counts[s] >= need; });
          sigs.sort(function (a, b) { return labels[a] < labels[b] ? -1 : labels[a] > labels[b] ? 1 : 0; });
          var only = Object.keys(counts).length - sigs.length;
          if (!sigs.length) {
            result.appendChild(h("p", { class: "bo-empty" }, ["These selections share no workload signature (workload, engine and model): nothing to compare."]));
            return;
          }
          var columns = [{ title: "Workload · engine · model", wrap: true }];
          items.forEach(function (item, i) {
            columns.push({ title: "#" + (i + 1) + " tokens/s", numeric: true, hint: itemLabel(item) });
            columns.push({ title: "#" + (i + 1) + " TTFT p50 ms", numeric: true, hint: itemLabel(item) });
          });
          var digits = [undefined];
          items.forEach(function () { digits.push(1, 1); });
          var rows = sigs.map(function (sig) {
            var row = [labels[sig]];
            sets.forEach(function (set) {
              var hit = set[sig];
              row.push(hit ? hit.result.throughput : null, hit ? hit.result.ttft_p50_ms : null);
            });
            return row;
          });
          var legend = h("ol", { class: "bo-compare-legend" }, items.map(function (item) { return h("li", {}, [itemLabel(item)]); }));
          result.appendChild(legend);
          var cats = sigs.map(function (s) { return labels[s]; });
          var spec = {
            data: sets.map(function (set, i) {
              return {
                type: "bar", orientation: "h", name: "#" + (i + 1) + " " + itemLabel(items[i]),
                y: cats, x: sigs.map(function (s) { return set[s] ? set[s].result.throughput : null; }),
                hovertemplate: "%{y}<br>%{x:.1f} tokens/s<extra>#" + (i + 1) + "</extra>",
              };
            }),
            layout: {
              barmode: "group", height: Math.max(260, 130 + 22 * (cats.length + 1) * items.length),
              /* the legend sits above the bars, under plotly's toolbar (long names would
               * collide with the axis title below) */
              margin: { l: 10, r: 10, t: 36 + 22 * items.length, b: 10 }, hovermode: "closest",
              xaxis: { title: { text: "tokens/s — higher is better" }, automargin: true },
              yaxis: { automargin: true, autorange: "reversed" },
              legend: { orientation: "h", x: 0, xanchor: "left", y: 1, yanchor: "bottom" },
            },
          };
          var chart = h("div", { class: "bo-chart", role: "img", "aria-label": "tokens/s side by side" });
          chart.__boSpec = spec;
          result.appendChild(chart);
          result.appendChild(dataTable(columns, rows, digits));
          if (only) {
            result.appendChild(h("p", { class: "bo-note" }, [only + " signature(s) measured by only one selection are left out."]));
          }
          drawAll(result);
        }).catch(function (err) {
          if (mine === generation) fail(result, "Could not load the results: " + err.message);
        });
      }

      function update() {
        saveUrl();
        renderOptions();
        renderChosen();
        renderResult();
      }

      noteBox.textContent = "";
      notes.forEach(function (n) { noteBox.appendChild(h("p", { class: "bo-note bo-warning" }, [n])); });
      picker.addEventListener("input", renderOptions);
      update();
    }).catch(function (err) { fail(el, "Could not load the run index: " + err.message); });
  }

  /* ---------------------------------------------------------------- wiring */

  function init() {
    purge();
    Array.prototype.forEach.call(document.querySelectorAll("table.bo-table"), makeSortable);
    Array.prototype.forEach.call(document.querySelectorAll(".bo-runs[data-src]"), runIndex);
    Array.prototype.forEach.call(document.querySelectorAll(".bo-run[data-src]"), runPage);
    Array.prototype.forEach.call(document.querySelectorAll(".bo-compare[data-src]"), comparePage);
    drawAll(document);
  }

  /* A content tab was shown: draw its charts now that they have a width, resize the rest. */
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t && t.matches && t.matches(".tabbed-set > input")) {
      requestAnimationFrame(function () { drawAll(t.closest(".tabbed-set")); });
    }
  });

  new MutationObserver(function () { retheme(); }).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-md-color-scheme"],
  });

  if (typeof document$ !== "undefined" && document$.subscribe) {
    document$.subscribe(function () { init(); });
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
