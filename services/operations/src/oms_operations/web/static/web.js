// The pages' own script: draws the charts (Chart.js) and submits the console's forms as
// JSON (htmx). Both libraries are optional: without them the pages still render.
(function () {
  "use strict";

  // Every <canvas data-chart> gets a chart from its JSON configuration; again after each
  // htmx swap (the dashboard's live refresh), the old chart destroyed first.
  function draw(root) {
    if (!window.Chart) return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var old = window.Chart.getChart(canvas);
      if (old) old.destroy();
      new window.Chart(canvas, JSON.parse(canvas.dataset.chart));
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });

  // The services' bodies are JSON (the service refuses any other body), so the forms are
  // too. htmx is loaded before this script, so the extension exists before any request.
  if (window.htmx) {
    window.htmx.defineExtension("json-form", {
      onEvent: function (name, evt) {
        if (name === "htmx:configRequest") evt.detail.headers["Content-Type"] = "application/json";
      },
      encodeParameters: function (xhr, parameters) {
        var body = {};
        parameters.forEach(function (value, name) { body[name] = value; });
        xhr.overrideMimeType("text/json");
        return JSON.stringify(body);
      },
    });
  }

  document.addEventListener("htmx:afterSwap", function (evt) { draw(evt.detail.target); });

  // A refused form (422 problem body) shows the problem's reasons where the answer goes.
  document.addEventListener("htmx:responseError", function (evt) {
    var target = evt.detail.target;
    if (!target || target.id === "figures") return;
    var text = "the request was refused (" + evt.detail.xhr.status + ")";
    try {
      var problem = JSON.parse(evt.detail.xhr.responseText);
      var reasons = (problem.errors || []).map(function (e) { return e.field + ": " + e.reason; });
      text = problem.detail + (reasons.length ? " — " + reasons.join("; ") : "");
    } catch (e) { /* not a problem body: keep the status */ }
    var box = document.createElement("div");
    box.className = "outcome refused";
    box.dataset.outcome = "invalid";
    box.textContent = text;
    target.replaceChildren(box);
  });
})();

// Sign-in: the token comes from the form or from the link's fragment (#token=…, never
// sent to a server); POST /login turns it into the session cookie, then on to the page.
(function () {
  "use strict";
  function signIn(form, token) {
    var error = document.getElementById("login-error");
    fetch("/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: token.trim() }),
      credentials: "same-origin",
    }).then(function (resp) {
      if (resp.ok) { window.location.replace(form.dataset.next || "/"); return; }
      return resp.json().then(function (problem) {
        error.textContent = problem.detail || ("sign-in refused (" + resp.status + ")");
        error.hidden = false;
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("login");
    if (!form) return;
    form.addEventListener("submit", function (evt) {
      evt.preventDefault();
      signIn(form, form.elements.token.value);
    });
    var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
    if (match) {
      history.replaceState(null, "", window.location.pathname + window.location.search);
      signIn(form, decodeURIComponent(match[1]));
    }
  });
})();
