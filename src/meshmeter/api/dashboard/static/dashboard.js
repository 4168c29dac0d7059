/* meshmeter dashboard: charts that fetch the JSON API, the network graph, the LCD's rotation.
   Plotly comes from /dashboard/static/plotly.min.js, served from the installed Python package. */
(function () {
  "use strict";

  var DAY_MS = 86400000;
  var MAX_DAYS = 1116;
  var BLUE = "#0550ae";
  // no "share" button: it would send the chart to Chart Studio, outside this server
  var CONFIG = { responsive: true, displaylogo: false, showSendToCloud: false, showEditInChartStudio: false,
                 modeBarButtonsToRemove: ["lasso2d", "select2d", "sendDataToCloud"] };
  // the toolbar's icons in the page's muted text colour (plotly's pale grey is under 3:1 on white)
  var MODEBAR = { color: "#57606a", activecolor: BLUE, bgcolor: "rgba(255, 255, 255, 0.9)" };

  function addDays(iso, n) {
    var d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  function daysBetween(a, b) {
    return Math.round((Date.parse(b + "T00:00:00Z") - Date.parse(a + "T00:00:00Z")) / DAY_MS);
  }
  function monthStart(iso) { return iso.slice(0, 7) + "-01"; }
  function nextMonth(iso) {
    var y = Number(iso.slice(0, 4)), m = Number(iso.slice(5, 7));
    return (m === 12 ? (y + 1) + "-01" : y + "-" + String(m + 1).padStart(2, "0")) + "-01";
  }
  /* The resolution that fits a view of `days` days: at most about 1,500 bars. */
  function resolutionFor(days) {
    if (days <= 4) { return "15min"; }
    if (days <= 62) { return "hourly"; }
    if (days <= 1095) { return "daily"; }
    return "monthly";
  }
  /* A stamp with an offset ("2026-01-02T00:15:00-08:00") as local wall time for plotly's date axis. */
  function wall(stamp) { return stamp.slice(0, 19).replace("T", " "); }
  function intervalsUrl(serial, start, end, resolution, tz, format) {
    return "/meters/" + encodeURIComponent(serial) + "/intervals?start=" + start + "&end=" + end +
      "&resolution=" + resolution + "&tz=" + encodeURIComponent(tz) + (format ? "&format=" + format : "");
  }
  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) {
          return r.json().then(function (p) { throw new Error(p.detail || r.statusText); },
                               function () { throw new Error(r.status + " " + r.statusText); });
        }
        return r.json();
      });
  }
  function say(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }
  var LABELS = { "15min": "15 minutes", hourly: "hour", daily: "day", monthly: "month" };

  /* Energy in kWh, as the footer says: the API's integer Wh divided by 1000 (null stays null). */
  function kwh(wh) { return wh === null ? null : wh / 1000; }
  /* Days and months stand over their own period: drawn at the period's start, centred on it, so that
     November's bar (ending 1 December) stands over "Nov"; finer bars are named by their end. */
  var PERIODS = { daily: DAY_MS, monthly: "M1" };
  function barTrace(doc, resolution) {
    var period = PERIODS[resolution];
    var trace = {
      type: "bar",
      x: doc.data.map(function (d) { return wall(period ? d.interval_start : d.interval_end); }),
      y: doc.data.map(function (d) { return kwh(d.energy_wh); }),
      customdata: doc.data.map(function (d) { return d.quality; }),
      marker: { color: BLUE },
      name: "energy",
      hovertemplate: (period ? (resolution === "monthly" ? "%{x|%b %Y}" : "%{x|%a %d %b %Y}") : "ending %{x}") +
        "<br>%{y:,.3f} kWh<br>quality %{customdata}<extra></extra>"
    };
    if (period) { trace.xperiod = period; trace.xperiodalignment = "middle"; }
    return trace;
  }
  function baseLayout(resolution) {
    return {
      margin: { l: 60, r: 10, t: 10, b: 40 },
      yaxis: { title: { text: "kWh per " + LABELS[resolution] }, rangemode: "tozero", fixedrange: true },
      xaxis: { type: "date" },
      bargap: 0.05,
      font: { color: "#1f2328" },
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff", modebar: MODEBAR
    };
  }

  /* The interval chart: a view from years down to 15 minutes; each zoom fetches the fitting resolution. */
  function intervalChart(el) {
    var serial = el.dataset.serial, tz = el.dataset.tz;
    var initial = [el.dataset.start, el.dataset.end];
    var shown = null;

    function load(start, end, range) {
      if (daysBetween(start, end) > MAX_DAYS) { start = addDays(end, -MAX_DAYS); }
      var resolution = resolutionFor(daysBetween(start, end));
      if (resolution === "monthly") {
        start = monthStart(start);
        if (end !== monthStart(end)) { end = nextMonth(end); }
      }
      var url = intervalsUrl(serial, start, end, resolution, tz);
      if (url === shown) { return Promise.resolve(); }
      shown = url;
      say("interval-status", "Loading " + LABELS[resolution] + " data…");
      return fetchJson(url).then(function (doc) {
        if (url !== shown) { return; }
        var layout = baseLayout(resolution);
        layout.xaxis.range = range || [wall(doc.start), wall(doc.end)];
        layout.xaxis.rangeselector = {
          buttons: [
            { step: "day", stepmode: "backward", count: 1, label: "1 day" },
            { step: "day", stepmode: "backward", count: 7, label: "1 week" },
            { step: "month", stepmode: "backward", count: 1, label: "1 month" },
            { step: "year", stepmode: "backward", count: 1, label: "1 year" }
          ]
        };
        layout.uirevision = serial;
        el.dataset.source = url;
        el.dataset.resolution = resolution;
        var csv = document.getElementById("csv-link");
        if (csv) { csv.href = intervalsUrl(serial, start, end, resolution, tz, "csv"); }
        var present = doc.data.filter(function (d) { return d.energy_wh !== null; }).length;
        return Plotly.react(el, [barTrace(doc, resolution)], layout, CONFIG).then(function () {
          say("interval-status", doc.count + " bars of one " + LABELS[resolution] + " (" + present +
              " with data), " + start + " to " + end + " local time.");
          el.dataset.ready = "true";
        });
      }).catch(function (err) {
        shown = null;
        say("interval-status", "Could not load the intervals: " + err.message);
      });
    }

    load(initial[0], initial[1]).then(function () {
      el.on("plotly_relayout", function (ev) {
        var x0 = ev["xaxis.range[0]"], x1 = ev["xaxis.range[1]"];
        if (ev["xaxis.range"]) { x0 = ev["xaxis.range"][0]; x1 = ev["xaxis.range"][1]; }
        if (ev["xaxis.autorange"]) { load(initial[0], initial[1]); return; }
        if (x0 === undefined || x1 === undefined) { return; }
        var start = String(x0).slice(0, 10), end = addDays(String(x1).slice(0, 10), 1);
        el.dataset.ready = "false";
        load(start, end, [x0, x1]).then(function () { el.dataset.ready = "true"; });
      });
    });
  }

  /* Daily or monthly bars over a fixed range. */
  function barChart(el) {
    var resolution = el.dataset.resolution;
    var url = intervalsUrl(el.dataset.serial, el.dataset.start, el.dataset.end, resolution, el.dataset.tz);
    fetchJson(url).then(function (doc) {
      el.dataset.source = url;
      var layout = baseLayout(resolution);
      layout.xaxis.range = [wall(doc.start), wall(doc.end)];
      return Plotly.newPlot(el, [barTrace(doc, resolution)], layout, CONFIG).then(function () { el.dataset.ready = "true"; });
    }).catch(function (err) { el.textContent = "Could not load the data: " + err.message; });
  }

  /* The meter page's load heat map: the hourly data of the last 31 days as local day (rows) x hour
     (columns), in kWh; a missing hour stays blank. Hour h is the hour that ends at h+1 o'clock. */
  function meterHeatmap(el) {
    var url = intervalsUrl(el.dataset.serial, el.dataset.start, el.dataset.end, "hourly", el.dataset.tz);
    fetchJson(url).then(function (doc) {
      el.dataset.source = url;
      var days = [], row = {}, z = [];
      doc.data.forEach(function (d) {
        var day = d.interval_start.slice(0, 10), hour = Number(d.interval_start.slice(11, 13));
        if (!(day in row)) { row[day] = days.length; days.push(day); z.push(new Array(24).fill(null)); }
        if (d.energy_wh !== null) { z[row[day]][hour] = (z[row[day]][hour] || 0) + kwh(d.energy_wh); }
      });
      var hours = [];
      for (var h = 0; h < 24; h += 1) { hours.push(String(h).padStart(2, "0") + ":00"); }
      var trace = {
        type: "heatmap", x: hours, y: days, z: z, colorscale: "Blues", reversescale: true, hoverongaps: false,
        colorbar: { title: { text: "kWh" }, thickness: 12 },
        hovertemplate: "%{y} %{x}<br>%{z:,.3f} kWh<extra></extra>"
      };
      var layout = {
        margin: { l: 80, r: 10, t: 10, b: 40 },
        xaxis: { title: { text: "local hour (start)" }, fixedrange: true, tickvals: ["00:00", "06:00", "12:00", "18:00"] },
        yaxis: { type: "category", autorange: "reversed", fixedrange: true, nticks: 8 },
        font: { color: "#1f2328" }, paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff", modebar: MODEBAR
      };
      return Plotly.newPlot(el, [trace], layout, CONFIG).then(function () { el.dataset.ready = "true"; });
    }).catch(function (err) { el.textContent = "Could not load the data: " + err.message; });
  }

  /* The mesh: links coloured by quality, then the devices by kind. On a narrow screen (under 600 px)
     the drawing fills the box instead of keeping metres square, and each label is its short form
     (the node's "short": "101", "R3", "DCAP"; else the label's first word); whatever label would
     still overlap another is left to the hover text, which always holds the full name. Drawn again
     when the width changes. */
  var NARROW_PX = 600;
  var CHAR_PX = 7.5, LABEL_PX = 16;  // a generous box of plotly's 12 px label text
  var KINDS = { dcap: ["DCAP", "square", 20, "#24292f"], repeater: ["repeater", "diamond", 15, "#6639ba"],
                mdt: ["MDT", "circle", 11, BLUE] };

  function span(values) {
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    var pad = Math.max((hi - lo) * 0.06, 0.5);
    return [lo - pad, hi + pad];
  }
  /* The label of each node and where it stands, or "" where it would overlap a label already placed
     (DCAP first, then the repeaters, then the MDTs) or another device's marker, or leave the plot:
     boxes in pixels under each marker, from the axes' ranges and the plot's size. A label is centred
     under its marker, else (at the plot's edge, or beside a neighbour) starts or ends there. */
  var PLACES = [["bottom center", -0.5], ["bottom right", 0], ["bottom left", -1]];
  function placeLabels(nodes, wanted, xr, yr, widthPx, heightPx, square) {
    var kx = widthPx / (xr[1] - xr[0]), ky = heightPx / (yr[1] - yr[0]);
    if (square) { kx = ky = Math.min(kx, ky); }
    // the plot's box: the ranges' middle at its centre (metres kept square widen one range about it)
    var mx = (xr[0] + xr[1]) / 2 * kx, my = -(yr[0] + yr[1]) / 2 * ky;
    var plot = [mx - widthPx / 2, my - heightPx / 2, mx + widthPx / 2, my + heightPx / 2];
    var order = nodes.map(function (n, i) { return i; }).sort(function (a, b) {
      var rank = { dcap: 0, repeater: 1, mdt: 2 };
      return rank[nodes[a].kind] - rank[nodes[b].kind] || a - b;
    });
    // the markers first (boxes[k] is node k's): each is in the way of the labels of the others
    var boxes = nodes.map(function (n) {
      var r = KINDS[n.kind][2] / 2, cx = n.x * kx, cy = -n.y * ky;
      return [cx - r, cy - r, cx + r, cy + r];
    });
    var out = nodes.map(function () { return ["", "bottom center"]; });
    order.forEach(function (i) {
      var text = wanted[i];
      if (!text) { return; }
      var n = nodes[i], w = text.length * CHAR_PX + 6, cx = n.x * kx, top = -n.y * ky + KINDS[n.kind][2] / 2;
      PLACES.some(function (place) {
        var left = cx + place[1] * w, box = [left, top, left + w, top + LABEL_PX];
        var inside = box[0] >= plot[0] && box[2] <= plot[2] && box[3] <= plot[3];
        var clear = inside && boxes.every(function (o, k) {
          return k === i || box[2] <= o[0] || o[2] <= box[0] || box[3] <= o[1] || o[3] <= box[1];
        });
        if (clear) { boxes.push(box); out[i] = [text, place[0]]; }
        return clear;
      });
    });
    return out;
  }

  function networkGraph(el) {
    var source = document.getElementById("network-data");
    if (!source) { return; }
    var g = JSON.parse(source.textContent);
    var at = {};
    g.nodes.forEach(function (n) { at[n.eui64] = n; });
    var drawnWidth = null;

    function draw() {
      var width = el.clientWidth, narrow = width < NARROW_PX, square = g.positioned && !narrow;
      drawnWidth = width;
      var traces = [];
      ["good", "fair", "poor"].forEach(function (q) {
        var x = [], y = [];
        g.edges.forEach(function (e) {
          if (e.quality !== q || !at[e.child] || !at[e.parent]) { return; }
          x.push(at[e.child].x, at[e.parent].x, null);
          y.push(at[e.child].y, at[e.parent].y, null);
        });
        if (x.length) {
          traces.push({ type: "scatter", mode: "lines", x: x, y: y, name: q + " link", hoverinfo: "skip",
                        line: { color: g.colours[q], width: 3 }, meta: { role: "links", quality: q } });
        }
      });
      var margin = g.positioned ? { l: 55, r: 10, t: 10, b: 45 } : { l: 10, r: 10, t: 10, b: 10 };
      var xr = span(g.nodes.map(function (n) { return n.x; })), yr = span(g.nodes.map(function (n) { return n.y; }));
      yr[0] -= (yr[1] - yr[0]) * 0.06;  // room for the labels under the lowest row
      // many MDTs: their names in the hover text and the table only, so that labels do not pile up
      var wanted = g.nodes.map(function (n) {
        if (n.kind === "mdt" && g.nodes.length > 12) { return ""; }
        return narrow ? String(n.short || String(n.label).split(" ")[0]) : String(n.label);
      });
      var labels = placeLabels(g.nodes, wanted, xr, yr, width - margin.l - margin.r,
                               el.clientHeight - margin.t - margin.b - 40, square);
      Object.keys(KINDS).forEach(function (k) {
        var idx = [];
        g.nodes.forEach(function (n, i) { if (n.kind === k) { idx.push(i); } });
        if (!idx.length) { return; }
        var style = KINDS[k];
        traces.push({
          type: "scatter", mode: "markers+text", name: style[0],
          x: idx.map(function (i) { return g.nodes[i].x; }), y: idx.map(function (i) { return g.nodes[i].y; }),
          text: idx.map(function (i) { return labels[i][0]; }),
          textposition: idx.map(function (i) { return labels[i][1]; }),
          hovertext: idx.map(function (i) { return g.nodes[i].text; }), hoverinfo: "text",
          customdata: idx.map(function (i) { return g.nodes[i].eui64; }),
          marker: { symbol: style[1], size: style[2], color: style[3], line: { color: "#ffffff", width: 1 } },
          meta: { role: "devices", kind: k }
        });
      });
      var layout = {
        margin: margin,
        showlegend: true, legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom" },
        xaxis: g.positioned ? { title: { text: "x [m]" }, zeroline: false, range: xr } : { visible: false, range: xr },
        yaxis: g.positioned ? { title: { text: "y [m]" }, zeroline: false, range: yr } : { visible: false, range: yr },
        hovermode: "closest",
        font: { color: "#1f2328" }, paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff", modebar: MODEBAR
      };
      if (square) { layout.yaxis.scaleanchor = "x"; }
      el.dataset.ready = "false";
      el.dataset.narrow = narrow ? "true" : "false";
      return Plotly.react(el, traces, layout, CONFIG).then(function () { el.dataset.ready = "true"; });
    }

    draw();
    var pending = null;
    window.addEventListener("resize", function () {
      window.clearTimeout(pending);
      pending = window.setTimeout(function () { if (el.clientWidth !== drawnWidth) { draw(); } }, 150);
    });
  }

  /* The LCD turns its screens every 5 s, as the meter does. */
  function lcd(el) {
    var screens = el.querySelectorAll(".lcd-screen");
    if (screens.length < 2) { return; }
    var i = 0;
    window.setInterval(function () {
      screens[i].classList.remove("shown");
      i = (i + 1) % screens.length;
      screens[i].classList.add("shown");
    }, 5000);
  }

  /* A file picker that reads its file into a textarea of the form (the Tariffs page's URDB document):
     the server takes the form's text only, so the file is read here, in the browser. */
  function fileInto(input) {
    var box = document.getElementById(input.dataset.into);
    if (!box) { return; }
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) { return; }
      var reader = new FileReader();
      reader.onload = function () {
        box.value = String(reader.result);
        var choice = input.form && input.form.querySelector("input[name=source][value=document]");
        if (choice) { choice.checked = true; }
      };
      reader.readAsText(file);
    });
  }

  function start() {
    document.querySelectorAll("input[type=file][data-into]").forEach(fileInto);
    if (typeof Plotly === "undefined") {
      document.querySelectorAll(".chart").forEach(function (el) {
        el.textContent = "The charts need /dashboard/static/plotly.min.js, which did not load.";
      });
    } else {
      var chart = document.getElementById("interval-chart");
      if (chart) { intervalChart(chart); }
      ["daily-chart", "monthly-chart"].forEach(function (id) {
        var el = document.getElementById(id);
        if (el) { barChart(el); }
      });
      var heat = document.getElementById("heatmap-chart");
      if (heat) { meterHeatmap(heat); }
      var graph = document.getElementById("network-graph");
      if (graph) { networkGraph(graph); }
    }
    var screen = document.getElementById("lcd");
    if (screen) { lcd(screen); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
