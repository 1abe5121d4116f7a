// 哨报 workbench: live countdowns to each deadline (data-due, ISO 8601 with offset).
// The server's clock (data-now) sets the start, so a wrong clock on the PC does not matter.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll(".countdown[data-due]"));
  if (!items.length) { return; }
  var skew = 0;
  var first = items[0].dataset.now;
  if (first) { skew = Date.parse(first) - Date.now(); }
  function text(ms) {
    var late = ms < 0;
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    var body = d > 0 ? d + "天" + h + "小时" + m + "分" : h > 0 ? h + "小时" + m + "分" + sec + "秒" : m + "分" + sec + "秒";
    return late ? "已超时 " + body : "剩余 " + body;
  }
  function tick() {
    var now = Date.now() + skew;
    items.forEach(function (el) {
      var left = Date.parse(el.dataset.due) - now;
      el.textContent = text(left);
      el.classList.toggle("late", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 4 * 3600 * 1000);
    });
  }
  tick();
  window.setInterval(tick, 1000);
}());
