// Upload forms (form[data-upload]): send the form by XHR so the progress bar follows the
// bytes as they leave the browser, then show the server's answer in the form's status line.
// The CSRF token travels in the X-CSRF-Token header (from <meta name="csrf-token">).
// On success the page part named by data-refresh is reloaded in place.
"use strict";

(function () {
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function fill(template, reply) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return reply && reply[key] !== undefined ? String(reply[key]) : "";
    });
  }

  function errorMessage(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) {
        var text = body.error.message;
        return text.charAt(0).toUpperCase() + text.slice(1);
      }
    } catch (ignored) { /* not JSON: fall through */ }
    return "The upload failed (HTTP " + xhr.status + ").";
  }

  function refresh(selector) {
    if (!selector) { return; }
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (resp) { return resp.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(selector);
        var old = document.querySelector(selector);
        if (fresh && old) { old.replaceWith(fresh); }
      });
  }

  function Upload(form) {
    this.form = form;
    this.bar = form.querySelector(".upload-progress");
    this.percent = form.querySelector(".upload-percent");
    this.status = form.querySelector(".upload-status");
    this.button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", this.start.bind(this));
  }

  Upload.prototype.progress = function (fraction) {
    var value = Math.round(fraction * 100);
    this.bar.value = value;
    this.bar.setAttribute("aria-valuenow", String(value));
    this.percent.textContent = value + "%";
  };

  Upload.prototype.say = function (text, kind) {
    this.status.textContent = text;
    this.status.className = "upload-status " + (kind || "");
  };

  Upload.prototype.start = function (event) {
    event.preventDefault();
    var file = this.form.querySelector("input[type=file]").files[0];
    if (!file) { this.say("Choose a file first.", "error"); return; }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", this.form.getAttribute("action"));
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", this.onProgress.bind(this));
    xhr.upload.addEventListener("load", this.onSent.bind(this));
    xhr.addEventListener("load", this.onAnswer.bind(this, xhr));
    xhr.addEventListener("error", this.onBroken.bind(this));
    this.form.classList.add("busy");
    this.form.classList.remove("failed");
    this.button.disabled = true;
    this.progress(0);
    this.say("Uploading " + file.name + "…", "");
    xhr.send(new FormData(this.form));
  };

  Upload.prototype.onProgress = function (event) {
    if (event.lengthComputable) { this.progress(event.loaded / event.total); }
  };

  Upload.prototype.onSent = function () {
    this.progress(1);
    this.say("Checking the package…", "");
  };

  Upload.prototype.onAnswer = function (xhr) {
    this.finish();
    if (xhr.status >= 200 && xhr.status < 300) {
      this.progress(1);
      this.say(fill(this.form.dataset.success || "Uploaded.", JSON.parse(xhr.responseText)), "ok");
      this.form.querySelector("input[type=file]").value = "";
      refresh(this.form.dataset.refresh);
    } else {
      this.form.classList.add("failed");
      this.say(errorMessage(xhr), "error");
    }
  };

  Upload.prototype.onBroken = function () {
    this.finish();
    this.form.classList.add("failed");
    this.say("The connection broke before the upload finished; try again.", "error");
  };

  Upload.prototype.finish = function () {
    this.form.classList.remove("busy");
    this.button.disabled = false;
  };

  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    return new Upload(form);
  });
}());
