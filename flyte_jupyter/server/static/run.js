// Follows a run that has not ended: appends new log text, reloads when the status changes
// or when the run is lost or heard from again.
(function () {
  'use strict';
  var data = document.body.dataset;
  var headers = { 'X-XSRFToken': data.xsrf };
  var cancel = document.getElementById('fj-cancel');
  if (cancel) {
    cancel.addEventListener('click', function () {
      cancel.disabled = true;
      cancel.textContent = 'Cancelling…';
      fetch(data.cancelUrl, { method: 'POST', headers: headers, credentials: 'same-origin' })
        .then(function (response) {
          if (!response.ok) {
            return response.json().then(function (body) { window.alert(body.message); });
          }
        })
        .catch(function (error) { window.alert(String(error)); })
        .then(function () { window.location.reload(); });
    });
  }
  if (data.done === '1') {
    return;
  }
  var offset = Number(data.logOffset);
  var log = document.getElementById('fj-log');
  var period = Number(data.poll) * 1000;
  function get(url) {
    return fetch(url, { headers: headers, credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) { throw new Error(r.statusText); }
      return r.json();
    });
  }
  function tick() {
    var logs = log
      ? get(data.logsUrl + '?offset=' + offset).then(function (chunk) {
          if (chunk.text) {
            var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
            log.appendChild(document.createTextNode(chunk.text));
            if (atEnd) { log.scrollTop = log.scrollHeight; }
          }
          offset = chunk.offset;
        })
      : Promise.resolve();
    logs
      .then(function () { return get(data.runUrl); })
      .then(function (run) {
        if (run.status !== data.status || (run.lost ? '1' : '0') !== data.lost) {
          window.location.reload();
          return;
        }
        window.setTimeout(tick, period);
      })
      .catch(function () { window.setTimeout(tick, period * 2); });
  }
  window.setTimeout(tick, period);
})();
