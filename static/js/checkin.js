/*
 * Check-in page: scan the post's QR code with the phone camera (BarcodeDetector, where the
 * browser has it) and, at posts that check location, attach the phone's position.
 *
 * Progressive: without this script, or without a camera or BarcodeDetector, the page works by
 * typing the 6-digit code. The QR code may hold the bare code or a link to this page with
 * ?code=NNNNNN; both are understood. Texts come translated from the script tag's data-*.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var text = (script && script.dataset) || {};
  var SCAN_INTERVAL_MS = 250;

  function extractCode(raw) {
    var value = String(raw || "").trim();
    try {
      var fromLink = new URL(value).searchParams.get("code");
      if (fromLink && /^\d{6}$/.test(fromLink)) {
        return fromLink;
      }
    } catch (notALink) {
      // Not a link: fall through to a bare code.
    }
    var bare = value.match(/^\D{0,3}(\d{6})\D{0,3}$/);
    return bare ? bare[1] : null;
  }

  function locate(form) {
    if (!navigator.geolocation) {
      return;
    }
    navigator.geolocation.getCurrentPosition(
      function (position) {
        form.querySelector("input[name=latitude]").value = position.coords.latitude.toFixed(6);
        form.querySelector("input[name=longitude]").value = position.coords.longitude.toFixed(6);
      },
      function () {
        // Refused or unavailable: the check-in goes ahead and is flagged for the coordinator.
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  }

  async function qrDetector() {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return null;
    }
    try {
      var formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.indexOf("qr_code") === -1) {
        return null;
      }
      return new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch (unsupported) {
      return null;
    }
  }

  function setUpScanner(form, detector) {
    var input = form.querySelector("input[name=code]");
    var start = form.querySelector("[data-scan-start]");
    var stop = form.querySelector("[data-scan-stop]");
    var box = form.querySelector(".scanner");
    var video = box.querySelector("video");
    var status = box.querySelector("[role=status]");
    var stream = null;
    var timer = null;

    function say(message) {
      status.textContent = message || "";
    }

    function stopCamera() {
      if (timer) {
        window.clearInterval(timer);
        timer = null;
      }
      if (stream) {
        stream.getTracks().forEach(function (track) {
          track.stop();
        });
        stream = null;
      }
      video.srcObject = null;
      box.hidden = true;
      stop.hidden = true;
      start.hidden = false;
    }

    async function scanOnce() {
      if (!stream || video.readyState < 2) {
        return;
      }
      var found;
      try {
        found = await detector.detect(video);
      } catch (notReady) {
        return;
      }
      for (var i = 0; i < found.length; i += 1) {
        var code = extractCode(found[i].rawValue);
        if (code) {
          input.value = code;
          say(text.found);
          stopCamera();
          if (form.requestSubmit) {
            form.requestSubmit();
          } else {
            form.submit();
          }
          return;
        }
      }
      if (found.length) {
        say(text.notCode);
      }
    }

    start.hidden = false;
    start.addEventListener("click", async function () {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      } catch (denied) {
        say(text.denied);
        box.hidden = false;
        return;
      }
      video.srcObject = stream;
      box.hidden = false;
      start.hidden = true;
      stop.hidden = false;
      say(text.looking);
      try {
        await video.play();
      } catch (blocked) {
        // Autoplay of a muted inline video is allowed; nothing to do if it is not.
      }
      timer = window.setInterval(scanOnce, SCAN_INTERVAL_MS);
    });
    stop.addEventListener("click", function () {
      stopCamera();
      say("");
    });
    window.addEventListener("pagehide", stopCamera);
  }

  async function main() {
    var forms = Array.prototype.slice.call(document.querySelectorAll("form[data-scan]"));
    forms.forEach(function (form) {
      if (form.hasAttribute("data-locate")) {
        locate(form);
      }
    });
    var detector = await qrDetector();
    if (!detector) {
      return;
    }
    forms.forEach(function (form) {
      setUpScanner(form, detector);
    });
  }

  main();
})();
