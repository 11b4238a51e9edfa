// The console's behaviour: theme switch, confirmations, charts (Vega-Lite, shipped here).
(function () {
  "use strict";

  function currentTheme() {
    var set = document.documentElement.getAttribute("data-theme");
    if (set) return set;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches
      ? "dark" : "light";
  }

  function toggleTheme() {
    var next = currentTheme() === "dark" ? "light" : "dark";
    document.documentElement.setAttribute("data-theme", next);
    try { localStorage.setItem("pmle-theme", next); } catch (e) {}
    renderCharts();
  }

  // Forms that change something ask first when they carry data-confirm.
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });

  var vendor = ["vega.min.js", "vega-lite.min.js", "vega-embed.min.js"];
  var loading = null;

  // Pages with charts carry the bundles in their head already; pages that add charts later
  // load them here.
  function loadVega() {
    if (window.vegaEmbed) return Promise.resolve();
    if (loading) return loading;
    loading = vendor.reduce(function (chain, file) {
      return chain.then(function () {
        return new Promise(function (resolve, reject) {
          var s = document.createElement("script");
          s.src = "/static/vendor/" + file;
          s.onload = resolve;
          s.onerror = function () { reject(new Error("cannot load " + file)); };
          document.head.appendChild(s);
        });
      });
    }, Promise.resolve());
    return loading;
  }

  function chartConfig() {
    var dark = currentTheme() === "dark";
    var fg = dark ? "#d8dee9" : "#1f2933";
    var grid = dark ? "#3b4252" : "#e4e7eb";
    return {
      background: null,
      font: "system-ui, sans-serif",
      title: { color: fg, anchor: "start", fontSize: 13 },
      axis: { labelColor: fg, titleColor: fg, gridColor: grid, domainColor: grid, tickColor: grid },
      legend: { labelColor: fg, titleColor: fg },
      view: { stroke: null },
      range: { category: ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"] }
    };
  }

  function drawChart(fig) {
    var spec = JSON.parse(document.getElementById(fig.getAttribute("data-spec")).textContent);
    spec.config = chartConfig();
    var target = fig.querySelector(".vega-target");
    if (!target) {
      target = document.createElement("div");
      target.className = "vega-target";
      fig.appendChild(target);
    }
    return window.vegaEmbed(target, spec, { actions: false, renderer: "svg" }).then(function () {
      fig.setAttribute("data-rendered", "1");
    }).catch(function (err) {
      target.textContent = "chart error: " + err.message;
    });
  }

  function inView(fig) {
    var box = fig.getBoundingClientRect();
    return box.top < window.innerHeight && box.bottom > 0;
  }

  // The charts on screen first, all at once; the rest one per task afterwards, so that a page
  // with many charts (a dataset's columns) is usable before the last one is drawn.
  function renderCharts() {
    var figures = Array.prototype.slice.call(document.querySelectorAll("figure.chart[data-spec]"));
    if (!figures.length) return;
    var seen = figures.filter(inView);
    var later = figures.filter(function (f) { return !inView(f); });
    loadVega().then(function () {
      return Promise.all(seen.map(drawChart));
    }).then(function () {
      (function next() {
        var fig = later.shift();
        if (!fig) return;
        drawChart(fig).then(function () { setTimeout(next, 0); });
      })();
    }).catch(function (err) {
      figures.forEach(function (fig) { fig.append("charts unavailable: " + err.message); });
    });
  }

  function start() {
    var btn = document.getElementById("theme-toggle");
    if (btn) btn.addEventListener("click", toggleTheme);
    renderCharts();
  }

  window.pmleRenderCharts = renderCharts;  // for pages that add charts later
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
