/* pytest-rime pages: charts (Chart.js), filters and search, case links, job log polling.
 * Reads the page's data from <script type="application/json" id="rime-data">. No network
 * access except the job page's polling of its own log on the same server. */
(function () {
  "use strict";

  var dataElement = document.getElementById("rime-data");
  var DATA = dataElement ? JSON.parse(dataElement.textContent || "{}") : {};
  var CHARTS = DATA.charts || {};

  var COLORS = {
    reference: "#7c93c3",
    evaluation: "#e8710a",
    before: "#7c93c3",
    after: "#e8710a",
    single: "#2f5fb3",
    low: "#c99a06",
    medium: "#e8710a",
    high: "#c62828",
    overall: "#1d2330",
  };
  var SEVERITY_COLORS = { HIGH: "#c62828", MEDIUM: "#e8710a", LOW: "#c99a06", NONE: "#8a94a6" };

  function datasetColor(label, index) {
    if (COLORS[label]) return COLORS[label];
    return index === 0 ? COLORS.single : ["#7c93c3", "#e8710a", "#2e7d32", "#7b1fa2"][index % 4];
  }

  function shortNumber(value) {
    return typeof value === "number" ? String(parseFloat(value.toPrecision(4))) : String(value);
  }

  function pointCount(spec) {
    var n = 0;
    spec.datasets.forEach(function (d) {
      d.data.forEach(function (v) { if (v !== null && v !== undefined) n += 1; });
    });
    return n;
  }

  /* Horizontal reference lines (thresholds, an overall value) drawn over the chart area. */
  var referenceLines = {
    id: "rimeLines",
    afterDatasetsDraw: function (chart) {
      var lines = (chart.options.plugins.rimeLines || {}).lines || [];
      var area = chart.chartArea;
      var y = chart.scales.y;
      var ctx = chart.ctx;
      lines.forEach(function (line) {
        var py = y.getPixelForValue(line.value);
        if (py < area.top - 1 || py > area.bottom + 1) return;
        ctx.save();
        ctx.strokeStyle = COLORS[line.label] || COLORS.overall;
        ctx.lineWidth = 1.5;
        ctx.setLineDash(line.label === "overall" ? [] : [6, 4]);
        ctx.beginPath();
        ctx.moveTo(area.left, py);
        ctx.lineTo(area.right, py);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = ctx.strokeStyle;
        ctx.font = "11px system-ui, sans-serif";
        ctx.textAlign = "right";
        ctx.fillText(line.label + " " + shortNumber(line.value), area.right - 4, py - 4);
        ctx.restore();
      });
    },
  };

  function suggestedRange(spec) {
    var values = [];
    spec.datasets.forEach(function (d) {
      d.data.forEach(function (v) { if (typeof v === "number") values.push(v); });
    });
    (spec.lines || []).forEach(function (l) { values.push(l.value); });
    if (!values.length) return {};
    var min = Math.min.apply(null, values);
    var max = Math.max.apply(null, values);
    var pad = (max - min) * 0.08 || Math.abs(max) * 0.1 || 1;
    return { suggestedMin: min >= 0 ? 0 : min - pad, suggestedMax: max + pad };
  }

  /* One colour per bar: the dataset's, the alarm colour for highlighted labels. */
  function barColors(spec, color) {
    if (!spec.highlight || !spec.highlight.length) return color;
    return spec.labels.map(function (_, i) {
      return spec.highlight.indexOf(i) >= 0 ? COLORS.high : color;
    });
  }

  function chartConfig(spec) {
    var range = suggestedRange(spec);
    var datasets = spec.datasets.map(function (d, i) {
      var color = datasetColor(d.label, i);
      return spec.type === "line"
        ? { label: d.label, data: d.data, borderColor: color, backgroundColor: color,
            pointRadius: spec.labels.length > 60 ? 1 : 3, spanGaps: true, tension: 0 }
        : { label: d.label, data: d.data, backgroundColor: barColors(spec, color),
            borderColor: color, maxBarThickness: 48 };
    });
    if (spec.type === "line" && spec.events && spec.events.length) {
      var points = spec.labels.map(function () { return null; });
      var colors = spec.labels.map(function () { return SEVERITY_COLORS.NONE; });
      spec.events.forEach(function (e) {
        points[e.index] = e.value;
        colors[e.index] = SEVERITY_COLORS[e.severity] || SEVERITY_COLORS.NONE;
      });
      datasets.push({ label: "events", data: points, showLine: false, pointRadius: 7,
        pointHoverRadius: 9, pointStyle: "triangle", pointBackgroundColor: colors,
        pointBorderColor: colors, borderColor: SEVERITY_COLORS.HIGH,
        backgroundColor: SEVERITY_COLORS.HIGH });
    }
    return {
      type: spec.type === "line" ? "line" : "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        onClick: function (event, elements) {
          var links = spec.links || [];
          var link = elements.length ? links[elements[0].index] : "";
          if (link) window.location.href = link;
        },
        scales: {
          x: { ticks: { autoSkip: true, maxRotation: 45 } },
          y: Object.assign({ beginAtZero: range.suggestedMin === 0 }, range),
        },
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          rimeLines: { lines: spec.lines || [] },
          tooltip: {
            callbacks: spec.events ? {
              afterBody: function (items) {
                var i = items.length ? items[0].dataIndex : -1;
                return spec.events.filter(function (e) { return e.index === i; })
                  .map(function (e) { return e.severity + ": " + e.label; });
              },
            } : {},
          },
        },
      },
      plugins: [referenceLines],
    };
  }

  function drawChart(canvas) {
    if (canvas.dataset.points || typeof window.Chart === "undefined") return;
    var spec = CHARTS[canvas.dataset.chart];
    if (!spec) return;
    new window.Chart(canvas, chartConfig(spec));
    canvas.dataset.points = String(pointCount(spec));
  }

  function drawVisibleCharts(root) {
    root.querySelectorAll("canvas.chart").forEach(function (canvas) {
      var closed = canvas.closest("details:not([open])");
      if (!closed) drawChart(canvas);
    });
  }

  /* Filters: per run section (a page may hold several runs). */
  function setupFilters(section) {
    var get = function (cls) { return section.querySelector("." + cls); };
    var controls = {
      category: get("filter-category"),
      severity: get("filter-severity"),
      gate: get("filter-gate"),
      feature: get("filter-feature"),
      search: get("search-box"),
    };
    var shown = section.querySelector(".shown-count");
    var cases = Array.prototype.slice.call(section.querySelectorAll(".case"));
    var texts = cases.map(function (el) { return el.textContent.replace(/\s+/g, " ").toLowerCase(); });

    function apply() {
      var category = controls.category ? controls.category.value : "";
      var severity = controls.severity ? controls.severity.value : "";
      var gate = controls.gate ? controls.gate.value : "";
      var feature = controls.feature ? controls.feature.value : "";
      var words = controls.search ? controls.search.value.trim().toLowerCase().split(/\s+/) : [];
      words = words.filter(Boolean);
      var count = 0;
      cases.forEach(function (el, i) {
        var features = JSON.parse(el.dataset.features || "[]");
        var text = texts[i];
        var ok = (!category || el.dataset.category === category) &&
          (!severity || el.dataset.severity === severity) &&
          (!gate || el.dataset.gate === gate) &&
          (!feature || features.indexOf(feature) >= 0) &&
          words.every(function (w) { return text.indexOf(w) >= 0; });
        el.hidden = !ok;
        if (ok) count += 1;
      });
      section.querySelectorAll(".category").forEach(function (group) {
        group.hidden = !group.querySelector(".case:not([hidden])");
      });
      if (shown) shown.textContent = count + " of " + cases.length + " shown";
    }

    var form = section.querySelector("form.filters");
    /* Enter in the search box must not submit (and reload) the page. */
    if (form) form.addEventListener("submit", function (event) { event.preventDefault(); });
    Object.keys(controls).forEach(function (name) {
      var control = controls[name];
      if (control) control.addEventListener(name === "search" ? "input" : "change", apply);
    });
    section.rimeResetFilters = function () {
      Object.keys(controls).forEach(function (name) { if (controls[name]) controls[name].value = ""; });
      apply();
    };
    apply();
  }

  /* A link to a case (#case-...) opens it, even when a filter hid it. */
  function openCase(hash) {
    if (!hash || hash.indexOf("#case-") !== 0) return;
    var target = document.getElementById(hash.slice(1));
    if (!target) return;
    if (target.hidden) {
      var section = target.closest(".run");
      if (section && section.rimeResetFilters) section.rimeResetFilters();
    }
    var details = target.querySelector("details");
    if (details) details.open = true;
    drawVisibleCharts(target);
    target.scrollIntoView({ block: "start" });
  }

  /* Job page: append the log from <job>/log?offset=N ({text, offset, done, reset?, status?,
   * progress?}) until the job is done, then reload the page once to show how it ended. */
  function pollJobLog() {
    var log = document.getElementById("job-log");
    if (!log) return;
    log.scrollTop = log.scrollHeight;  /* the tail is what matters */
    if (log.dataset.finished === "true") return;
    var url = log.dataset.logUrl;
    var offset = parseInt(log.dataset.offset || "0", 10);
    var status = document.getElementById("job-status");
    var progress = document.getElementById("job-progress");
    var bar = document.getElementById("job-progress-bar");
    var delay = 1000;

    function tick() {
      fetch(url + "?offset=" + offset, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (answer) {
          var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
          if (answer.reset) log.textContent = "";  /* the log was rewritten: start again */
          if (answer.text) {
            log.textContent += answer.text;
            if (log.textContent.length > 400000) log.textContent = log.textContent.slice(-300000);
            if (atBottom) log.scrollTop = log.scrollHeight;
          }
          if (typeof answer.offset === "number") offset = answer.offset;
          log.dataset.offset = String(offset);
          if (answer.status && status) {
            status.textContent = answer.status;
            status.className = "status status-" + answer.status;
          }
          if (answer.progress && progress) {
            progress.textContent = answer.progress;
            var match = /^\s*(\d+)\s*\/\s*(\d+)/.exec(answer.progress);
            if (match && bar && +match[2] > 0) bar.value = Math.min(1, +match[1] / +match[2]);
          }
          if (answer.done) {
            log.dataset.finished = "true";
            var state = document.getElementById("job-log-state");
            if (state) state.textContent = "";
            window.setTimeout(function () { window.location.reload(); }, 300);
            return;
          }
          delay = 1000;
          window.setTimeout(tick, delay);
        })
        .catch(function () {
          delay = Math.min(delay * 2, 15000);
          window.setTimeout(tick, delay);
        });
    }
    window.setTimeout(tick, delay);
  }

  function init() {
    document.querySelectorAll(".run").forEach(setupFilters);
    document.querySelectorAll("details").forEach(function (details) {
      details.addEventListener("toggle", function () {
        if (details.open) drawVisibleCharts(details);
      });
    });
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a.case-link");
      if (link) {
        event.preventDefault();
        history.replaceState(null, "", link.getAttribute("href"));
        openCase(link.getAttribute("href"));
      }
    });
    window.addEventListener("hashchange", function () { openCase(window.location.hash); });
    drawVisibleCharts(document);
    openCase(window.location.hash);
    pollJobLog();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
