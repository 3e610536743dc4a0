// Klaxon's console: live updates (each page's <main> is fetched again and swapped) and the
// actions, through the JSON API. The pages are complete without this script.
(function () {
  'use strict';

  function main() { return document.getElementById('main'); }

  function say(text, bad) {
    var status = document.getElementById('status');
    if (status) { status.textContent = text; status.className = bad ? 'bad' : ''; }
  }

  async function api(method, path, body) {
    var init = { method: method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    var response = await fetch(path, init);
    var text = await response.text();
    var json = null;
    try { json = JSON.parse(text); } catch (e) { json = null; }
    if (!response.ok) {
      throw new Error((json && json.message) || (response.status + ' ' + text));
    }
    return json;
  }

  var busy = false;
  async function refresh() {
    var current = main();
    if (busy || !current || !current.dataset.refresh) { return; }
    var active = document.activeElement;
    // Never swap a form from under someone typing in it.
    if (active && current.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) { return; }
    busy = true;
    try {
      // The path, not location.href: a URL with a user and password in it cannot be fetched.
      var response = await fetch(location.pathname + location.search, { credentials: 'same-origin' });
      if (response.ok) {
        var doc = new DOMParser().parseFromString(await response.text(), 'text/html');
        var fresh = doc.getElementById('main');
        if (fresh && fresh.innerHTML !== current.innerHTML) { current.innerHTML = fresh.innerHTML; }
      }
    } catch (e) {
      // The next poll tries again.
    } finally {
      busy = false;
    }
  }

  async function act(button) {
    var d = button.dataset;
    if (d.action === 'silence') {
      await api('POST', '/kapacitor/v1/silences', {
        'topic': d.topic, 'alert-id': d.alertId, 'duration': '1h',
        'comment': 'silenced from the console', 'created-by': 'console'
      });
    } else if (d.action === 'expire') {
      await api('DELETE', '/kapacitor/v1/silences/' + encodeURIComponent(d.id));
    } else if (d.action === 'logout') {
      await api('POST', '/console/logout');
      location.assign('/console/login');
    } else if (d.action === 'task-status') {
      await api('PATCH', '/kapacitor/v1/tasks/' + encodeURIComponent(d.id), { 'status': d.status });
    }
  }

  document.addEventListener('click', async function (event) {
    var button = event.target.closest('button[data-action]');
    if (!button) { return; }
    event.preventDefault();
    button.disabled = true;
    try {
      await act(button);
      say(button.dataset.done || 'Done', false);
      await refresh();
    } catch (e) {
      say(e.message, true);
      button.disabled = false;
    }
  });

  document.addEventListener('submit', async function (event) {
    var form = event.target;
    if (form.id === 'login') {
      // JSON through the script: the cross-site checks refuse an HTML form's body types.
      event.preventDefault();
      try {
        await api('POST', '/console/login', {
          'username': form.elements.username.value, 'password': form.elements.password.value
        });
        location.assign(form.dataset.next || '/console/alerts');
      } catch (e) {
        say(e.message, true);
        form.elements.password.value = '';
      }
      return;
    }
    if (form.id !== 'new-silence') { return; }
    event.preventDefault();
    var value = function (name) { return form.elements[name].value.trim(); };
    var spec = {
      'topic': value('topic'), 'alert-id': value('alert-id'), 'duration': value('duration'),
      'comment': value('comment'), 'created-by': 'console', 'tags': []
    };
    var tag = value('tag');
    if (tag) {
      var at = tag.indexOf('=');
      if (at < 1) { say('tag: give NAME=VALUE', true); return; }
      spec.tags.push({ 'name': tag.slice(0, at), 'value': tag.slice(at + 1) });
    }
    try {
      var made = await api('POST', '/kapacitor/v1/silences', spec);
      say('Silence ' + made.id + ' made', false);
      form.reset();
      if (document.activeElement) { document.activeElement.blur(); }
      await refresh();
    } catch (e) {
      say(e.message, true);
    }
  });

  var every = Number((main() || { dataset: {} }).dataset.refresh) || 0;
  if (every > 0) { setInterval(refresh, every); }
})();
