// jobcraft dashboard: the page's little behaviour. No inline handlers (the CSP allows only nonce'd scripts):
// everything is wired here, by delegation on the document so it survives a refresh of the content.
(function () {
  'use strict';
  var STORE = 'jobcraft.dashboard.pollMs';
  var body = document.body;
  var select = document.getElementById('refresh-interval');
  var timer = null;
  var chart = null;

  function pollMs() {
    var stored = null;
    try { stored = window.localStorage.getItem(STORE); } catch (e) { stored = null; }
    var n = Number(stored !== null ? stored : body.getAttribute('data-poll-ms'));
    return isFinite(n) && n >= 0 ? n : 5000;
  }

  // A refresh never throws away what the user is doing: checked boxes, a focused field.
  function busy() {
    var content = document.getElementById('content');
    if (!content) return true;
    if (content.querySelector('input[type=checkbox]:checked')) return true;
    var active = document.activeElement;
    return !!(active && content.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName));
  }

  function refresh() {
    if (document.hidden || busy()) return;
    fetch(window.location.href, { credentials: 'same-origin', headers: { 'X-Jobcraft-Refresh': '1' } })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (text) {
        if (text === null || busy()) return;
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var fresh = doc.getElementById('content');
        var content = document.getElementById('content');
        if (!fresh || !content) return;
        content.replaceChildren.apply(content, Array.prototype.map.call(fresh.childNodes, function (n) { return document.importNode(n, true); }));
        drawChart();
      })
      .catch(function () { /* the next tick tries again */ });
  }

  function schedule() {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
    // An action's answer (a POST's result) or an error page is never reloaded.
    if (body.hasAttribute('data-no-refresh')) return;
    var ms = pollMs();
    if (ms > 0) timer = window.setInterval(refresh, ms);
  }

  if (select) {
    var current = String(pollMs());
    if (!Array.prototype.some.call(select.options, function (o) { return o.value === current; })) {
      var opt = document.createElement('option');
      opt.value = current;
      opt.textContent = current + ' ms';
      select.appendChild(opt);
    }
    select.value = current;
    select.addEventListener('change', function () {
      try { window.localStorage.setItem(STORE, select.value); } catch (e) { /* private mode */ }
      schedule();
    });
  }
  // Back on the tab: catch up at once, if the page polls at all (refresh off, or an action's answer: never).
  document.addEventListener('visibilitychange', function () { if (!document.hidden && timer !== null) refresh(); });

  document.addEventListener('change', function (event) {
    var t = event.target;
    if (t && t.classList && t.classList.contains('select-all')) {
      var table = t.closest('table');
      if (!table) return;
      Array.prototype.forEach.call(table.querySelectorAll('input[name=id]'), function (box) { box.checked = t.checked; });
    }
  });
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (form && form.getAttribute && form.getAttribute('data-confirm') === '1' && !window.confirm('Are you sure?')) event.preventDefault();
  });

  function drawChart() {
    var el = document.getElementById('chart');
    var data = document.getElementById('chart-data');
    if (chart) { chart.destroy(); chart = null; }
    if (!el || !data || typeof window.uPlot !== 'function') return;
    var d;
    try { d = JSON.parse(data.textContent || '{}'); } catch (e) { return; }
    if (!d.t) return;
    el.textContent = '';
    chart = new window.uPlot({
      width: Math.max(300, el.clientWidth || 800),
      height: 220,
      series: [
        {},
        { label: 'processed', stroke: '#2a7', width: 1.5 },
        { label: 'failed', stroke: '#d80', width: 1.5 },
        { label: 'dead', stroke: '#c33', width: 1.5 }
      ],
      axes: [{}, { size: 60 }]
    }, [d.t, d.processed, d.failed, d.dead], el);
  }

  drawChart();
  schedule();
})();
