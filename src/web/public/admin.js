// The operator's view: polls /ui/api/admin/stats every two seconds; sends notifications through
// notify's own API with a short-lived client token.
import { request } from '/ui/request.js';
const $ = (selector) => document.querySelector(selector);
const pollMs = 2000;
let previous = null;

function rows(tbody, entries) {
  tbody.replaceChildren(
    ...entries.map((cells) => {
      const row = document.createElement('tr');
      for (const cell of cells) row.append(Object.assign(document.createElement('td'), { textContent: String(cell) }));
      return row;
    }),
  );
}

async function refresh() {
  const { status, data } = await request('GET', '/ui/api/admin/stats');
  if (status !== 200) return;
  $('#connections-total').textContent = String(data.connectionsTotal);
  rows($('#connections tbody'), Object.entries(data.connections).sort());
  $('#uptime').textContent = String(data.uptimeSeconds);
  $('#store').textContent = `${data.store.messages} messages, ${data.store.pendingNotifications} pending notifications`;
  $('#online-count').textContent = String(data.onlineCount);
  $('#online-users').replaceChildren(...data.online.map((name) => Object.assign(document.createElement('li'), { textContent: name })));
  const now = Date.now();
  rows(
    $('#rates tbody'),
    Object.entries(data.published).sort().map(([channel, total]) => {
      const before = previous?.published[channel] ?? total;
      const seconds = previous ? (now - previous.at) / 1000 : 1;
      return [channel, ((total - before) / seconds).toFixed(1), total];
    }),
  );
  previous = { at: now, published: data.published };
  $('#errors').replaceChildren(
    ...data.recentErrors.map((e) => Object.assign(document.createElement('li'), { textContent: `${e.time} ${e.level} ${e.event} ${JSON.stringify(e.fields)}` })),
  );
}

async function sendNotification(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const token = (await request('POST', '/ui/api/admin/client-token')).data.access_token;
  let payload = form.get('payload');
  try {
    payload = JSON.parse(payload);
  } catch {
    // plain text is a fine payload
  }
  const { status, data } = await request('POST', '/notify/api/message/notify', { [form.get('kind')]: [form.get('target')], payload }, token);
  $('#notify-result').textContent = status === 202 ? `sent to ${data.recipients} recipient(s)` : `failed: ${JSON.stringify(data)}`;
}

async function boot() {
  const me = await request('GET', '/ui/api/me');
  if (me.status !== 200 || !me.data.admin) {
    $('#denied').hidden = false;
    $('#denied').textContent = me.status === 200 ? 'This page is for admins (flashhub user add --admin).' : 'Log in on the chat page first.';
    return;
  }
  $('#whoami').textContent = me.data.username;
  $('#admin').hidden = false;
  const config = await request('GET', '/ui/api/admin/config');
  rows($('#config tbody'), config.data.map((row) => [row.key, Array.isArray(row.value) ? row.value.join(',') : row.value]));
  $('#notify-form').addEventListener('submit', sendNotification);
  await refresh();
  setInterval(refresh, pollMs);
}

void boot();
