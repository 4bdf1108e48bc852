// Keeps the dashboard live: every few seconds, while the page is visible and "Live" is ticked,
// fetch the page again and swap in each section marked data-live. Without this script every
// page still works; it only stops updating by itself.
"use strict";
(function () {
  var PERIOD_MS = 5000;
  var busy = false;

  function live() {
    var box = document.getElementById("live");
    return box === null || box.checked;
  }

  function refresh() {
    if (busy || document.hidden || !live()) return;
    // Do not move things under someone reading the numbers or typing.
    var active = document.activeElement;
    if (active && active.closest && active.closest("details[open], form")) return;
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected || !response.ok) throw new Error("status " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (old) {
          // Nor a section under the pointer: a link about to be clicked stays where it is.
          if (old.querySelector("details[open]") || old.matches(":hover")) return;
          var replacement = fresh.getElementById(old.id);
          if (replacement) old.replaceWith(document.importNode(replacement, true));
        });
        var stamp = fresh.querySelector(".updated");
        var current = document.querySelector(".updated");
        if (stamp && current) current.replaceWith(document.importNode(stamp, true));
        document.documentElement.dataset.refreshed = String(Date.now());
      })
      .catch(function () { /* try again next time */ })
      .then(function () { busy = false; });
  }

  window.setInterval(refresh, PERIOD_MS);
})();
