// The desk's calculator updates as you type: it asks the server for the same calculator (GET
// /negotiations/{id}/calculator with the form's fields) and swaps in the result and the field errors.
// Without JavaScript the form is a plain GET form and works the same, one submit at a time.
(function () {
  "use strict";
  var form = document.getElementById("calc-form");
  if (!form || !window.fetch || !window.DOMParser) { return; }
  var timer = null, seq = 0;

  function update() {
    var mine = ++seq;
    var query = new URLSearchParams(new FormData(form)).toString();
    fetch(form.getAttribute("data-fragment") + "?" + query, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || mine !== seq) { return; }  // an older answer arriving late is dropped
        var doc = new DOMParser().parseFromString(html, "text/html");
        var result = doc.getElementById("calc-result");
        if (result) { document.getElementById("calc-result").innerHTML = result.innerHTML; }
        doc.querySelectorAll(".field-error").forEach(function (fresh) {
          var here = document.getElementById(fresh.id);
          if (here) { here.innerHTML = fresh.innerHTML; }
        });
        form.querySelectorAll("input, select").forEach(function (field) {
          var fresh = doc.getElementById(field.id);
          if (!fresh || field.type === "hidden") { return; }
          if (fresh.getAttribute("aria-invalid")) { field.setAttribute("aria-invalid", "true"); }
          else { field.removeAttribute("aria-invalid"); }
        });
      })
      .catch(function () { /* the plain form still works */ });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(update, 300);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
})();
