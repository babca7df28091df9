(function () {
  "use strict";
  // Filters: platform, language, event and what to show. The choice lives in the URL's
  // fragment (index.html#platform=x&lang=sv), so a link opens the page already filtered.
  var form = document.getElementById("filters");
  if (!form) { return; }
  var names = ["platform", "lang", "event", "show"];
  var posts = Array.prototype.slice.call(document.querySelectorAll("article.post"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("section.group"));
  var days = Array.prototype.slice.call(document.querySelectorAll("section.day"));
  var shown = document.getElementById("shown");
  var none = document.getElementById("none-shown");

  function choice() {
    var wanted = {};
    names.forEach(function (name) { wanted[name] = form.elements[name].value; });
    return wanted;
  }

  function matches(post, wanted) {
    var data = post.dataset;
    if (wanted.platform && data.platform !== wanted.platform) { return false; }
    if (wanted.lang && data.lang !== wanted.lang) { return false; }
    if (wanted.event && data.event !== wanted.event) { return false; }
    if (wanted.show === "go" && data.goes !== "yes") { return false; }
    if (wanted.show === "not" && data.goes !== "no") { return false; }
    if (wanted.show === "warn" && data.warn !== "yes") { return false; }
    return true;
  }

  function apply() {
    var wanted = choice();
    var count = 0;
    posts.forEach(function (post) {
      var show = matches(post, wanted);
      post.hidden = !show;
      if (show) { count += 1; }
    });
    groups.forEach(function (group) {
      group.hidden = !group.querySelector("article.post:not([hidden])");
    });
    days.forEach(function (day) {
      day.hidden = !day.querySelector("section.group:not([hidden])");
    });
    var filtered = names.some(function (name) { return wanted[name]; });
    shown.textContent = filtered
      ? "Showing " + count + " of " + posts.length + " posts"
      : "Showing all " + posts.length + " posts";
    none.hidden = count > 0 || posts.length === 0;
  }

  function fromFragment() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    names.forEach(function (name) {
      var select = form.elements[name];
      var value = params.get(name) || "";
      var known = Array.prototype.some.call(select.options, function (option) {
        return option.value === value;
      });
      select.value = known ? value : "";
    });
  }

  function toFragment() {
    var wanted = choice();
    var params = new URLSearchParams();
    names.forEach(function (name) { if (wanted[name]) { params.set(name, wanted[name]); } });
    var text = params.toString();
    var url = window.location.pathname + window.location.search + (text ? "#" + text : "");
    try {
      window.history.replaceState(null, "", url);
    } catch (error) {
      // Some browsers refuse to change the address of a file:// page; the filter still works.
    }
  }

  form.addEventListener("change", function () { apply(); toFragment(); });
  form.addEventListener("reset", function () {
    window.setTimeout(function () { apply(); toFragment(); }, 0);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  window.addEventListener("hashchange", function () { fromFragment(); apply(); });
  form.hidden = false;
  fromFragment();
  apply();
}());
