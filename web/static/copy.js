// Copy buttons for values shown once (a new key): <button data-copy="ID" data-copy-status="ID">.
// Loaded as a file, never inline, so pages keep script-src 'self'. Where the
// Clipboard API is missing or refused (plain http on another host, an old
// browser), the whole value is selected so Ctrl+C / Cmd+C takes all of it.
(function () {
  "use strict";

  function selectAll(field) {
    field.focus();
    field.select();
    field.setSelectionRange(0, field.value.length);
  }

  function say(button, text) {
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (status) status.textContent = text;
  }

  document.addEventListener("click", function (event) {
    if (event.target.matches && event.target.matches("[data-select-all]")) {
      selectAll(event.target);  // a click would otherwise drop the selection made on focus
      return;
    }
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    var copying = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(field.value)
      : Promise.reject(new Error("no clipboard"));
    copying.then(
      function () {
        say(button, "Copied. Paste it into your secret manager now.");
        button.textContent = "Copied";
      },
      function () {
        selectAll(field);
        say(button, "Selected: press Ctrl+C (or \u2318C on a Mac) to copy it.");
      }
    );
  });

  // Clicking into the field takes the whole value, never half a key.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-all]")) selectAll(event.target);
  });
})();
