// stackadmin dashboard: live updates over a websocket, and a few keyboard conveniences.
// Pages work without this file; it only makes open pages follow changes made elsewhere.
//
// Live updates: the server pushes {"kind", "prompt_id", "version"?, "label"?} for every prompt change (created,
// version_created, default_changed, label_moved, label_removed, version_deleted, move_refused, deleted). Each
// region that shows prompt data carries data-live="<prompt id>" (or "*" for any prompt) and hx-trigger="refresh";
// whatever the kind, we send it "refresh" and htmx fetches the region again from the server, which renders it as
// it is now (a timeline with its labels and history, the Activity page).
(function () {
  "use strict";

  var REFRESH_DELAY_MS = 60; // coalesces a burst of events into one request per region
  var pending = {};
  var retries = 0;
  var connectedBefore = false;
  var lastChanged = null;

  function setStatus(state, label) {
    var el = document.getElementById("live-status");
    if (!el) return;
    el.dataset.state = state;
    el.querySelector(".live-label").textContent = label;
  }

  function toast(message) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var el = document.createElement("div");
    el.className = "toast";
    el.textContent = message;
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, 6000);
  }

  function refresh(id) {
    clearTimeout(pending[id]);
    pending[id] = setTimeout(function () {
      delete pending[id];
      var el = document.getElementById(id);
      if (el && window.htmx) window.htmx.trigger(el, "refresh");
    }, REFRESH_DELAY_MS);
  }

  function refreshMatching(promptId) {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      var scope = el.getAttribute("data-live");
      if (el.id && (promptId === null || scope === "*" || scope === promptId)) refresh(el.id);
    });
  }

  function describe(event) {
    var id = event.prompt_id || "a prompt";
    switch (event.kind) {
      case "created": return "New prompt " + id;
      case "version_created": return "Version " + event.version + " of " + id + " saved";
      case "default_changed": return "Version " + event.version + " is now the default of " + id;
      case "label_moved": return "Label " + event.label + " of " + id + " now points at version " + event.version;
      case "label_removed": return "Label " + event.label + " removed from " + id;
      case "version_deleted": return "Version " + event.version + " of " + id + " deleted";
      case "move_refused": return "A move of the protected label " + event.label + " of " + id + " was refused";
      case "deleted": return id + " deleted";
      default: return id + " changed";
    }
  }

  function connect() {
    var path = document.body.dataset.liveUrl;
    if (!path || !("WebSocket" in window)) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + path);
    setStatus("connecting", "Connecting…");
    socket.addEventListener("open", function () {
      retries = 0;
      setStatus("on", "Live");
      // After a reconnect, events may have been missed: bring every live region up to date.
      if (connectedBefore) refreshMatching(null);
      connectedBefore = true;
    });
    socket.addEventListener("message", function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (!event || !event.kind) return;
      lastChanged = event.prompt_id || null;
      refreshMatching(event.prompt_id || null);
      var announcer = document.getElementById("announcer");
      if (announcer) announcer.textContent = describe(event);
    });
    socket.addEventListener("close", function () {
      setStatus("off", "Reconnecting…");
      var delay = Math.min(10000, 500 * Math.pow(2, retries++));
      setTimeout(connect, delay);
    });
  }

  // Mark the row of the prompt that just changed when the list comes back.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (!lastChanged || !target || target.id !== "prompt-list") return;
    var row = document.querySelector('[data-prompt-id="' + CSS.escape(lastChanged) + '"]');
    if (row) row.classList.add("flash");
    lastChanged = null;
  });

  // A refusal the server explains itself (HX-Trigger: stackadmin:notice) needs no generic message.
  document.body.addEventListener("stackadmin:notice", function (evt) { toast(evt.detail.message); });
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    if (xhr && /stackadmin:notice/.test(xhr.getResponseHeader("HX-Trigger") || "")) return;
    toast("The server answered " + (xhr ? xhr.status : "?") + ". Reload the page and try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("Could not reach the server. Check the connection and try again.");
  });

  document.addEventListener("keydown", function (evt) {
    var target = evt.target;
    var typing = target.closest && target.closest("input, textarea, select, [contenteditable]");
    // "/" jumps to the search field, as on many sites.
    if (evt.key === "/" && !typing && !evt.ctrlKey && !evt.metaKey && !evt.altKey) {
      var search = document.getElementById("prompt-search");
      if (search) { evt.preventDefault(); search.focus(); search.select(); }
    }
    // Ctrl/Cmd+Enter in a form's text area submits that form.
    if (evt.key === "Enter" && (evt.ctrlKey || evt.metaKey) && target.tagName === "TEXTAREA" && target.form) {
      evt.preventDefault();
      target.form.requestSubmit();
    }
  });

  // Copy buttons are hidden until this script can make them work.
  function enableCopy(root) {
    root.querySelectorAll("[data-copy], [data-copy-from]").forEach(function (button) {
      if (!navigator.clipboard) return;
      button.hidden = false;
    });
  }
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-copy], [data-copy-from]");
    if (!button) return;
    var text = button.dataset.copy;
    if (text === undefined) {
      var source = document.querySelector(button.dataset.copyFrom);
      text = source ? source.textContent : "";
    }
    navigator.clipboard.writeText(text).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
  document.addEventListener("htmx:load", function (evt) { enableCopy(evt.detail.elt); });

  enableCopy(document);
  connect();
})();
