// 哨报 console: reload the data every 10 s without a full page flash; pause on request.
(function () {
  "use strict";
  var main = document.getElementById("console");
  if (!main) { return; }
  var seconds = Number(main.dataset.refreshSeconds || 10);
  var paused = false;
  var button = document.getElementById("pause");
  if (button) {
    button.addEventListener("click", function () {
      paused = !paused;
      button.textContent = paused ? "恢复自动刷新" : "暂停自动刷新";
    });
  }
  function refresh() {
    if (paused || document.hidden) { return; }
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("console");
        var stamp = doc.getElementById("refreshed");
        if (fresh) { main.innerHTML = fresh.innerHTML; }
        var old = document.getElementById("refreshed");
        if (stamp && old) { old.textContent = stamp.textContent; }
      })
      .catch(function () {
        var old = document.getElementById("refreshed");
        if (old) { old.textContent = "刷新失败，稍后重试"; }
      });
  }
  window.setInterval(refresh, seconds * 1000);
}());
