// The run page's script, when it runs (in a browser tab; JupyterLab's tab frames the page
// without scripts and follows the run itself). It shows the copy buttons, follows the log of
// a run that has not ended (rendered lines from the page's lines endpoint, appended as text),
// reloads when the status changes or the run is lost or heard from again, and follows
// JupyterLab's light/dark theme when the URL does not name one.
(function () {
  'use strict';
  var data = document.body.dataset;
  var headers = { 'X-XSRFToken': data.xsrf };
  var root = document.documentElement;

  function get(url) {
    return fetch(url, { headers: headers, credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) { throw new Error(r.statusText); }
      return r.json();
    });
  }

  // copy buttons: <button class="fj-copy" data-copy="<id of the element to copy>">
  Array.prototype.forEach.call(document.querySelectorAll('.fj-copy'), function (button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(source.textContent).then(
        function () { button.textContent = 'Copied'; },
        function () { button.textContent = 'Select and copy it'; }
      );
      window.setTimeout(function () { button.textContent = 'Copy'; }, 2000);
    });
  });

  // theme: JupyterLab's setting, read again whenever the tab comes back into view
  function followTheme() {
    if (!data.themeUrl || new URLSearchParams(window.location.search).get('theme')) { return; }
    get(data.themeUrl).then(function (settings) {
      var name = (settings.composite && settings.composite.theme) || '';
      if (/dark/i.test(name)) { root.dataset.theme = 'dark'; }
      else if (/light/i.test(name)) { root.dataset.theme = 'light'; }
      else { delete root.dataset.theme; }
    }).catch(function () { /* no JupyterLab here: the browser's preference applies */ });
  }
  followTheme();
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) { followTheme(); }
  });

  var cancel = document.getElementById('fj-cancel');
  if (cancel) {
    cancel.addEventListener('click', function () {
      if (!window.confirm('Cancel this run?')) { return; }
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
  var empty = document.getElementById('fj-log-empty');
  var period = Number(data.poll) * 1000;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }
  // one rendered line, as templates/run.html writes it (text only: never markup)
  function line(record) {
    var div = element('div', 'fj-line' + (record.css_level ? ' fj-level-' + record.css_level : ''));
    if (record.level) {
      div.appendChild(element('span', 'fj-ltime', record.time || ''));
      div.appendChild(element('span', 'fj-llevel', record.level));
    }
    var message = element('span', 'fj-lmsg');
    record.segments.forEach(function (segment) {
      message.appendChild(document.createTextNode(segment.text));
      if (segment.ref && /^#fj-L-\d+$/.test(segment.ref.href)) {
        message.appendChild(document.createTextNode(' '));
        var link = element('a', 'fj-cellref', '→ ' + segment.ref.label);
        link.href = segment.ref.href;
        message.appendChild(link);
      }
    });
    div.appendChild(message);
    return div;
  }
  function tick() {
    var logs = log
      ? get(data.linesUrl + '?offset=' + offset).then(function (chunk) {
          if (chunk.lines.length) {
            var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
            chunk.lines.forEach(function (record) { log.appendChild(line(record)); });
            log.hidden = false;
            if (empty) { empty.hidden = true; }
            if (atEnd) { log.scrollTop = log.scrollHeight; }
          }
          offset = chunk.offset;
          if (chunk.nodes_stamp !== null && String(chunk.nodes_stamp) !== data.nodesStamp) {
            throw new Error('reload');  // a node started or ended: show it
          }
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
      .catch(function (error) {
        if (error && error.message === 'reload') { window.location.reload(); return; }
        window.setTimeout(tick, period * 2);
      });
  }
  window.setTimeout(tick, period);
})();
