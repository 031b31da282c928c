// Draws every chart of the page with the vendored Vega bundle (assets/vega.min.js), as SVG,
// in German number format. When all are drawn, <html data-charts="N"> says so (the browser
// test waits for it); a chart that fails logs an error and sets data-charts="error".
(function () {
  "use strict";
  var german = { decimal: ",", thousands: ".", grouping: [3], currency: ["", "\u00a0€"] };
  var options = {
    renderer: "svg",
    actions: false,
    formatLocale: german,
    config: {
      font: "system-ui, 'DejaVu Sans', Arial, sans-serif",
      axis: { labelFontSize: 12, titleFontSize: 12 },
      legend: { labelFontSize: 12 },
      view: { stroke: null }
    }
  };
  var charts = Array.prototype.slice.call(document.querySelectorAll("[data-chart]"));
  var drawn = charts.map(function (element) {
    var spec = JSON.parse(document.getElementById(element.dataset.chart).textContent);
    return vegaEmbed(element, spec, options);
  });
  Promise.all(drawn).then(
    function () { document.documentElement.dataset.charts = String(drawn.length); },
    function (error) {
      console.error("Diagramm konnte nicht gezeichnet werden:", error);
      document.documentElement.dataset.charts = "error";
    }
  );
})();
