// The exam trainer's pages: the countdown from the server's deadline (submitting the exam at
// zero) and the keys — 1–9 choose an option, n / p next / previous, f flag.
(function () {
  "use strict";

  function clockText(seconds) {
    var whole = Math.max(0, Math.ceil(seconds));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    var mm = (m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  }

  function startTimer() {
    var box = document.getElementById("exam-timer");
    if (!box) return;
    var shown = box.querySelector("strong");
    // the server's remaining time when it rendered the page; the page arrives later, so the
    // count here ends at or after the real deadline
    var remaining = parseFloat(box.getAttribute("data-remaining"));
    if (isNaN(remaining)) return;
    var started = performance.now();
    var done = false;
    function tick() {
      var left = remaining - (performance.now() - started) / 1000;
      shown.textContent = clockText(left);
      box.classList.toggle("low", left < 300);
      if (left <= 0 && !done) {
        done = true;
        shown.textContent = "00:00";
        box.classList.add("over");
        // the server decides: it submits at its deadline (or sends the page back if early)
        var form = document.getElementById("auto-submit");
        window.setTimeout(function () {
          if (form) form.submit(); else window.location.reload();
        }, 300);
        return;
      }
      if (!done) window.setTimeout(tick, Math.min(250, Math.max(20, left * 1000)));
    }
    tick();
  }

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    if (target.isContentEditable || tag === "textarea" || tag === "select") return true;
    if (tag !== "input") return false;
    var type = (target.getAttribute("type") || "text").toLowerCase();
    return ["radio", "checkbox", "button", "submit", "reset"].indexOf(type) < 0;
  }

  function press(key) {
    var el = document.querySelector('[data-key="' + key + '"]');
    if (el && !el.disabled) { el.click(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    var key = ev.key;
    if (/^[1-9]$/.test(key)) {
      var inputs = document.querySelectorAll('.exam-options input[name="choice"]');
      var input = inputs[parseInt(key, 10) - 1];
      if (input && !input.disabled) {
        if (input.type === "radio") input.checked = true; else input.checked = !input.checked;
        input.focus();
        ev.preventDefault();
      }
      return;
    }
    var lower = key.length === 1 ? key.toLowerCase() : key;
    if ((lower === "n" || lower === "p" || lower === "f") && press(lower)) ev.preventDefault();
  });

  // a page shown again from the back/forward cache would show a stale clock
  window.addEventListener("pageshow", function (ev) {
    if (ev.persisted && document.getElementById("exam-timer")) window.location.reload();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startTimer);
  } else {
    startTimer();
  }
})();
