/* bakeoff site: charts, sortable tables, the run index and run pages.
 *
 * Material's instant navigation swaps page content without reloading, so everything here
 * runs from `document$.subscribe` (fired on every page load, instant or not). Charts are
 * drawn only when visible; charts in a content tab are drawn or resized when the tab is
 * shown. Run-sourced strings are inserted with textContent only, never innerHTML.
 */
(function () {
  "use strict";

  var drawn = [];

  var COLORWAY = {
    light: ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#B8860B", "#56B4E9", "#7F3C8D", "#444444"],
    dark: ["#56B4E9", "#E69F00", "#66CC99", "#F0A0C8", "#F0E442", "#FF8C69", "#B39DDB", "#DDDDDD"],
  };

  function isDark() {
    return document.body.getAttribute("data-md-color-scheme") === "slate";
  }

  function themeLayout() {
    var style = getComputedStyle(document.body);
    var fg = style.getPropertyValue("--md-default-fg-color").trim() || (isDark() ? "#e0e0e0" : "#222");
    var grid = isDark() ? "rgba(255,255,255,0.15)" : "rgba(0,0,0,0.12)";
    return {
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: fg, family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif" },
      colorway: isDark() ? COLORWAY.dark : COLORWAY.light,
      "xaxis.gridcolor": grid,
      "yaxis.gridcolor": grid,
      "xaxis.zerolinecolor": grid,
      "yaxis.zerolinecolor": grid,
    };
  }

  function applyTheme(layout) {
    var theme = themeLayout();
    var out = JSON.parse(JSON.stringify(layout || {}));
    out.paper_bgcolor = theme.paper_bgcolor;
    out.plot_bgcolor = theme.plot_bgcolor;
    out.font = theme.font;
    out.colorway = theme.colorway;
    /* every axis of the spec (stacked panels use yaxis2, yaxis3, …) */
    var axes = Object.keys(out).filter(function (k) { return /^[xy]axis[0-9]*$/.test(k); });
    ["xaxis", "yaxis"].forEach(function (k) { if (axes.indexOf(k) < 0) axes.push(k); });
    axes.forEach(function (axis) {
      var kind = axis.charAt(0) + "axis";
      out[axis] = out[axis] || {};
      out[axis].gridcolor = theme[kind + ".gridcolor"];
      out[axis].zerolinecolor = theme[kind + ".zerolinecolor"];
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
    Plotly.newPlot(el, spec.data || [], applyTheme(spec.layout), {
      responsive: true,
      displaylogo: false,
    });
    drawn.push(el);
  }

  function draw(el) {
    if (typeof Plotly === "undefined") return;
    var state = el.getAttribute("data-drawn");
    if (state === "1") {
      if (visible(el)) Plotly.Plots.resize(el);
      return;
    }
    if (state === "loading" || !visible(el)) return;
    var src = el.getAttribute("data-src");
    if (src) {
      /* Chart data lives in data/charts/*.json: no page weight, fetched when first shown. */
      el.setAttribute("data-drawn", "loading");
      fetch(src).then(function (r) {
        if (!r.ok) throw new Error(r.status + " " + r.statusText);
        return r.json();
      }).then(function (spec) {
        if (!el.isConnected) return;
        el.setAttribute("data-drawn", "1");
        plot(el, spec);
      }).catch(function (err) {
        el.setAttribute("data-drawn", "error");
        el.textContent = "Chart data could not be loaded: " + err.message;
      });
      return;
    }
    var spec;
    try {
      spec = el.__boSpec ? JSON.parse(el.__boSpec) : JSON.parse(el.getAttribute("data-spec") || "{}");
    } catch (err) {
      el.textContent = "Chart data could not be read.";
      return;
    }
    el.setAttribute("data-drawn", "1");
    plot(el, spec);
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
      if (!el.isConnected) return;
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
    /* right-align numeric columns (rows carry no classes, to keep pages light) */
    Array.prototype.forEach.call(headers, function (th, index) {
      if (!th.classList.contains("bo-num")) return;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        if (row.cells[index]) row.cells[index].classList.add("bo-num");
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
      el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return el;
  }

  function text(v) {
    if (v === null || v === undefined || v === "") return "—";
    if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en") : v.toFixed(2);
    return String(v);
  }

  /* Links come from the generator; refuse anything with a scheme or an absolute path. */
  function safeHref(href) {
    return typeof href === "string" && /^[A-Za-z0-9._\/?=-]+$/.test(href) && href.indexOf("//") < 0
      ? href : null;
  }

  function link(label, href) {
    var ok = safeHref(href);
    return ok ? h("a", { href: ok }, [label]) : document.createTextNode(label);
  }

  function dataTable(columns, rows, linkCol) {
    var head = h("tr", {}, columns.map(function (c) { return h("th", {}, [c]); }));
    var body = h("tbody", {}, rows.map(function (row) {
      return h("tr", {}, row.map(function (v, i) {
        var td = h("td", {});
        if (typeof v === "number") { td.setAttribute("data-sort", String(v)); td.className = "bo-num"; }
        if (linkCol && linkCol[i]) td.appendChild(linkCol[i](row));
        else td.appendChild(document.createTextNode(text(v)));
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

  /* ---------------------------------------------------------------- run index */

  function runIndex(el) {
    var src = el.getAttribute("data-src");
    fetch(src).then(function (r) {
      if (!r.ok) throw new Error(r.status + " " + r.statusText);
      return r.json();
    }).then(function (rows) {
      if (!el.isConnected) return;
      el.textContent = "";
      var input = h("input", { type: "search", class: "bo-filter", placeholder: "Filter runs (id, hardware, model, engine)", "aria-label": "Filter runs" });
      var count = h("span", { class: "bo-count-note" }, []);
      var columns = ["Run", "Started", "Status", "Completeness", "Hardware", "Models", "Engines", "Calls ok", "Calls"];
      var shaped = rows.map(function (r) { return [r[1], r[2], r[3], r[4], r[5], r[7], r[8], r[9], r[10]]; });
      var links = {
        0: function (row) { var i = shaped.indexOf(row); return link(row[0], rows[i][0] ? "view.html?id=" + rows[i][0] : null); },
        4: function (row) { var i = shaped.indexOf(row); return link(row[4], "../systems/" + rows[i][6]); },
      };
      var wrap = dataTable(columns, shaped, links);
      var trs = wrap.querySelectorAll("tbody tr");
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

  function runPage(el) {
    var id = new URLSearchParams(location.search).get("id") || "";
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) {
      fail(el, "No run selected: open a run from the run index.");
      return;
    }
    fetch(el.getAttribute("data-src") + id + ".json").then(function (r) {
      if (!r.ok) throw new Error(r.status === 404 ? "no run " + id + " in this archive" : r.status + " " + r.statusText);
      return r.json();
    }).then(function (doc) {
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
        el.appendChild(h("h2", {}, [block.title]));
        if (block.kind === "kv") {
          el.appendChild(h("table", { class: "bo-kv" }, [h("tbody", {}, block.rows.map(function (r) {
            return h("tr", {}, [h("th", {}, [r[0]]), h("td", {}, [text(r[1])])]);
          }))]));
        } else if (block.kind === "table") {
          el.appendChild(dataTable(block.columns, block.rows));
        } else if (block.kind === "chart") {
          var div = h("div", { class: "bo-chart", role: "img", "aria-label": block.title });
          div.__boSpec = JSON.stringify(block.spec);
          el.appendChild(div);
        }
      });
      drawAll(el);
    }).catch(function (err) { fail(el, "Could not load the run: " + err.message); });
  }

  /* ---------------------------------------------------------------- wiring */

  /* plotly.js inserts its stylesheet (modebar, hover, legend) into <head> once, when it
   * loads, with insertRule. Instant navigation replaces <head> children that the next page
   * does not have, which drops that stylesheet: keep its rules as text and put them back. */
  var plotlyStyle = document.getElementById("plotly.js-style-global");
  var plotlyCss = plotlyStyle && plotlyStyle.sheet
    ? Array.prototype.map.call(plotlyStyle.sheet.cssRules, function (r) { return r.cssText; }).join("\n")
    : "";

  function ensurePlotlyCss() {
    if (!plotlyCss || plotlyStyle.isConnected || document.getElementById("bo-plotly-css")) return;
    var style = document.createElement("style");
    style.id = "bo-plotly-css";
    style.textContent = plotlyCss;
    document.head.appendChild(style);
  }

  function init() {
    ensurePlotlyCss();
    purge();
    Array.prototype.forEach.call(document.querySelectorAll("table.bo-table"), makeSortable);
    Array.prototype.forEach.call(document.querySelectorAll(".bo-runs[data-src]"), runIndex);
    Array.prototype.forEach.call(document.querySelectorAll(".bo-run[data-src]"), runPage);
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
