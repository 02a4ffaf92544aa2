// Tell people when an htmx request fails, instead of silently doing nothing.
(function () {
  "use strict";
  var MESSAGES = {
    403: "You do not have permission to do that.",
    404: "That no longer exists; it may have been deleted. Reload the page.",
    409: "Someone changed this at the same time. Reload the page and try again.",
    429: "Too many requests. Wait a moment and try again.",
  };

  function show(text) {
    var box = document.getElementById("htmx-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "htmx-error";
      box.className = "toast error";
      box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    box.textContent = text;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 8000);
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (status === 422) return; // form errors are swapped in place
    show(MESSAGES[status] || (status >= 500
      ? "Something went wrong on the server (" + status + "). Try again; if it keeps failing, tell your portal admin."
      : "The request was refused (" + status + ")."));
  });
  document.addEventListener("htmx:sendError", function () {
    show("The portal could not be reached. Check your connection and try again.");
  });
})();
