// The dashboard's progressive JavaScript: charts (plotly.js, served by this server) from the
// JSON each page embeds, and copy buttons. Every figure is also in an HTML table.
(function () {
  "use strict";

  function drawCharts() {
    var holder = document.getElementById("chart-data");
    if (!holder || typeof window.Plotly === "undefined") return;
    var charts = JSON.parse(holder.textContent);
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var spec = charts[element.dataset.chart];
      if (!spec) return;
      var money = spec.unit === "USD";
      var traces = spec.series.map(function (s) {
        return {
          type: "scatter",
          mode: "lines+markers",
          name: s.name,
          x: spec.x,
          y: s.y.map(Number),
          line: { color: s.color, width: 2, dash: s.dash || "solid" },
          marker: { size: 4 },
          hovertemplate: "%{x}<br>" + s.name + ": " + (money ? "$%{y:,.4f}" : "%{y:,}") + "<extra></extra>",
        };
      });
      var layout = {
        margin: { l: 64, r: 12, t: spec.series.length > 1 ? 40 : 8, b: 44 },
        height: 260,
        paper_bgcolor: "#ffffff",
        plot_bgcolor: "#ffffff",
        font: { family: "system-ui, sans-serif", size: 12, color: "#1b1f24" },
        xaxis: { type: "date", title: { text: "Day (UTC)" }, gridcolor: "#e3e6ea", tickformat: "%b %d" },
        yaxis: {
          title: { text: money ? "USD" : spec.unit },
          rangemode: "tozero",
          gridcolor: "#e3e6ea",
          tickprefix: money ? "$" : "",
          separatethousands: true,
        },
        showlegend: spec.series.length > 1,
        legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
        hovermode: "x unified",
      };
      window.Plotly.newPlot(element, traces, layout, {
        displayModeBar: false,
        responsive: true,
      });
      element.dataset.drawn = "true";
    });
  }

  function copyButtons() {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.dataset.copy);
      if (!source || !navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(source.textContent).then(function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 1500);
        });
      });
    });
  }

  // Forms that ask "are you sure?" (deleting, refunding): data-confirm="question".
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  function start() {
    drawCharts();
    copyButtons();
    confirmations();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
