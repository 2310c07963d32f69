// Search-as-you-type for the dispatch page's community: the list of choices is the server's own
// HTML fragment (the page works the same without this script, through the search form).
(function () {
  "use strict";
  var input = document.getElementById("community-q");
  var target = document.getElementById("community-choices");
  if (!input || !target || !window.fetch) return;
  var hidden = document.querySelector("form[method=post] input[type=hidden][name=q]");
  var timer = null;
  var latest = 0;
  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      var query = input.value.trim();
      var ticket = ++latest;
      var url = input.getAttribute("data-choices-url") + "&q=" + encodeURIComponent(query);
      window.fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null || ticket !== latest) return;
          target.innerHTML = html;
          if (hidden) hidden.value = query;
        })
        .catch(function () { /* the search form still works */ });
    }, 250);
  });
})();
