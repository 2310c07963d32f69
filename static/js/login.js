// A form with a texted code (the code log-in, answering a recruitment call): "Get code" asks the
// API (the form's data-api) for a text and counts down until another may be asked for. Without
// this script the button submits the form and the page answers the same way.
(function () {
  "use strict";
  var form = document.getElementById("login-code") || document.getElementById("apply");
  if (!form) return;
  var button = form.querySelector(".code-send");
  var status = form.querySelector(".code-status");
  var mobile = form.querySelector("input[name=mobile]");
  var code = form.querySelector("input[name=code]");
  var timer = null;

  function say(text) {
    status.textContent = text;
  }

  function countDown(seconds) {
    clearInterval(timer);
    var left = seconds;
    function tick() {
      if (left <= 0) {
        clearInterval(timer);
        button.disabled = false;
        button.textContent = form.dataset.label;
        return;
      }
      button.disabled = true;
      button.textContent = form.dataset.wait.replace("%(seconds)s", left);
      left -= 1;
    }
    tick();
    timer = setInterval(tick, 1000);
  }

  button.addEventListener("click", function (event) {
    event.preventDefault();
    if (!/^1[3-9][0-9]{9}$/.test(mobile.value.replace(/[\s-]/g, ""))) {
      say(form.dataset.invalid);
      mobile.focus();
      return;
    }
    button.disabled = true;
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    fetch(form.dataset.api, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token, "Accept-Language": document.documentElement.lang },
      body: JSON.stringify({ mobile: mobile.value }),
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { status: response.status, body: body };
        });
      })
      .then(function (answer) {
        if (answer.status === 202) {
          say(form.dataset.sent);
          countDown(answer.body.resend_after);
          code.focus();
        } else if (answer.status === 429) {
          var wait = answer.body.details.retry_after;
          say(form.dataset.throttled.replace("%(seconds)s", wait));
          countDown(wait);
        } else if (answer.status === 400) {
          say(form.dataset.invalid);
          button.disabled = false;
        } else {
          say(form.dataset.failed);
          button.disabled = false;
        }
      })
      .catch(function () {
        say(form.dataset.failed);
        button.disabled = false;
      });
  });

  var initial = parseInt(form.dataset.resendAfter, 10);
  if (initial > 0) countDown(initial);
})();
