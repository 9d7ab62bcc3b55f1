// metareview workspace: keyboard shortcuts and partial page updates.
// Every page works without this script; it only saves key presses and page loads.
(function () {
  "use strict";
  var token = function () {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  };

  // Single-key shortcuts: an element with data-key="i" is clicked (or focused, for inputs) when i is pressed
  // outside a text field.  "?" lists the page's shortcuts.
  function typing(el) {  // a field that takes text (radio buttons and checkboxes are pressed, not typed in)
    if (!el) return false;
    if (el.tagName === "INPUT") return !/^(radio|checkbox|button|submit|reset)$/.test(el.type);
    return el.isContentEditable || /^(TEXTAREA|SELECT)$/.test(el.tagName);
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape" && typing(document.activeElement)) { document.activeElement.blur(); return; }
    if (typing(ev.target)) return;
    if (ev.key === "?") {
      var d = document.getElementById("shortcuts");
      if (d && d.showModal) { d.showModal(); ev.preventDefault(); }
      return;
    }
    var el = document.querySelector('[data-key="' + CSS.escape(ev.key) + '"]');
    if (!el || el.disabled) return;
    ev.preventDefault();
    if (typing(el)) { el.focus(); } else { el.click(); }
  });
  document.addEventListener("click", function (ev) {
    var help = ev.target.closest("[data-help]");
    if (help) { ev.preventDefault(); var d = document.getElementById("shortcuts"); if (d && d.showModal) d.showModal(); }
  });

  // Partial updates: a form with data-partial is posted with fetch (the CSRF token in the X-CSRF-Token
  // header) and the server's answer replaces <main>, without reloading styles and scripts.
  var busy = false;
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.hasAttribute("data-partial") || busy || !window.fetch) return;
    ev.preventDefault();
    busy = true;
    var body = new FormData(form);
    if (ev.submitter && ev.submitter.name) body.append(ev.submitter.name, ev.submitter.value);
    fetch(form.action, {method: "POST", body: body, credentials: "same-origin",
                        headers: {"X-CSRF-Token": token(), "Accept": "text/html"}})
      .then(function (resp) {
        if (resp.status === 401) {
          window.location = "/login?next=" + encodeURIComponent(location.pathname + location.search);
          return;
        }
        return resp.text().then(function (html) { swap(html, resp.url, resp.status); });
      })
      .catch(function () { form.submit(); })
      .finally(function () { busy = false; });
  });

  function swap(html, url, status) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var next = doc.getElementById("main");
    var main = document.getElementById("main");
    if (!next || !main) { document.open(); document.write(html); document.close(); return; }
    main.replaceWith(next);
    document.title = doc.title;
    if (url && status < 400) history.replaceState(null, "", url);
    var focus = next.querySelector("[autofocus]") || next;
    focus.focus();
  }

  // Inline checks: a form with data-check="URL" sends its values there when a field changes, and shows the
  // server's message for that field beside it (the same checks the server applies when the form is saved).
  document.addEventListener("change", function (ev) {
    var form = ev.target.form;
    var box = ev.target.closest("[data-field]");
    if (!form || !box || !form.hasAttribute("data-check") || !window.fetch) return;
    var name = box.getAttribute("data-field");
    fetch(form.getAttribute("data-check"), {method: "POST", body: new FormData(form), credentials: "same-origin",
                                             headers: {"X-CSRF-Token": token(), "Accept": "application/json"}})
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (doc) {
        if (!doc) return;
        var message = (doc.errors || {})[name];
        var out = form.querySelector('[data-error-for="' + CSS.escape(name) + '"]');
        if (out) { out.textContent = message || ""; out.hidden = !message; }
        box.classList.toggle("invalid", !!message);
      })
      .catch(function () {});
  });

  // Proposed judgments: a form with data-propose="URL" sends its answers there when one changes, and shows
  // the judgments the tool proposes in its <output data-proposed-for="..."> elements (saving shows the same);
  // an answer that arrives after a later one's is dropped.
  var asked = 0;
  document.addEventListener("change", function (ev) {
    var form = ev.target.form;
    if (!form || !form.hasAttribute("data-propose") || !window.fetch) return;
    var mine = ++asked;
    fetch(form.getAttribute("data-propose"), {method: "POST", body: new FormData(form), credentials: "same-origin",
                                               headers: {"X-CSRF-Token": token(), "Accept": "application/json"}})
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (doc) {
        if (!doc || mine !== asked) return;
        form.querySelectorAll("output[data-proposed-for]").forEach(function (out) {
          var value = doc.proposed[out.getAttribute("data-proposed-for")];
          out.textContent = value || out.getAttribute("data-pending");
        });
      })
      .catch(function () {});
  });
})();
