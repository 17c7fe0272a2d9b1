// The chat client of the web console: chat's REST API and /chat/stream for rooms and messages,
// notify's EventSource for notifications. Plain ES modules: nothing to build, nothing from a CDN.
import { request } from '/ui/request.js';
const $ = (selector) => document.querySelector(selector);
const pageSize = 30;

const state = {
  me: null,
  current: '0',
  oldestId: null,
  loadingOlder: false,
  names: new Map(),
  rooms: new Map(),
};

// The server stores messages HTML-escaped (as the demo did); show them as text, never as markup.
function unescape(text) {
  const entities = { '&amp;': '&', '&quot;': '"', '&#x27;': "'", '&lt;': '<', '&gt;': '>' };
  return text.replace(/&(amp|quot|#x27|lt|gt);/g, (entity) => entities[entity]);
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'onclick') node.addEventListener('click', value);
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

async function usernames(ids) {
  const missing = [...new Set(ids)].filter((id) => !state.names.has(String(id)));
  if (missing.length) {
    const query = missing.map((id) => `ids[]=${encodeURIComponent(id)}`).join('&');
    const { data } = await request('GET', `/chat/users?${query}`);
    for (const [id, user] of Object.entries(data ?? {})) state.names.set(id, user.username);
  }
  return ids.map((id) => state.names.get(String(id)) ?? `#${id}`);
}

// Rooms -----------------------------------------------------------------------------------------
function roomLabel(room) {
  if (room.id === '0') return 'General';
  const names = room.names.map((name) => (Array.isArray(name) ? name[0] : name));
  return names.find((name) => name !== state.me.username) ?? names[0];
}

function renderRooms() {
  const list = $('#rooms');
  list.replaceChildren(
    ...[...state.rooms.values()].map((room) =>
      element('li', { 'data-room': room.id, class: room.id === state.current ? 'current' : '', onclick: () => openRoom(room.id) }, roomLabel(room)),
    ),
  );
}

async function loadRooms() {
  const { data } = await request('GET', `/chat/rooms/${state.me.id}`);
  state.rooms = new Map((data ?? []).map((room) => [room.id, room]));
  renderRooms();
}

async function openPrivateRoom(userId) {
  const { status, data } = await request('POST', '/chat/room', { user1: Number(state.me.id), user2: Number(userId) });
  if (status !== 200 && status !== 201) return;
  state.rooms.set(data.id, data);
  await openRoom(data.id);
}

// Messages --------------------------------------------------------------------------------------
function messageItem(message, name) {
  const mine = String(message.from) === String(state.me.id);
  return element('li', { class: mine ? 'mine' : '', 'data-id': message.id }, element('span', { class: 'from' }, name), unescape(message.message));
}

async function renderMessages(messages, { prepend = false } = {}) {
  const names = await usernames(messages.map((m) => m.from));
  const items = messages.map((message, i) => messageItem(message, names[i]));
  const list = $('#messages');
  if (prepend) {
    const before = list.scrollHeight;
    list.prepend(...items);
    list.scrollTop += list.scrollHeight - before;
  } else {
    list.append(...items);
    list.scrollTop = list.scrollHeight;
  }
}

async function openRoom(roomId) {
  state.current = roomId;
  state.oldestId = null;
  $('#room-title').textContent = state.rooms.has(roomId) ? roomLabel(state.rooms.get(roomId)) : roomId;
  $('#rooms').querySelector(`[data-room="${roomId}"]`)?.classList.remove('unread');
  renderRooms();
  $('#messages').replaceChildren();
  const { data } = await request('GET', `/chat/room/${roomId}/messages?size=${pageSize}`);
  const newestFirst = data ?? [];
  state.oldestId = newestFirst.at(-1)?.id ?? null;
  await renderMessages(newestFirst.reverse());
}

async function loadOlder() {
  if (state.loadingOlder || !state.oldestId || state.oldestId <= 1) return;
  state.loadingOlder = true;
  const roomId = state.current;
  const { data } = await request('GET', `/chat/room/${roomId}/messages?size=${pageSize}&before=${state.oldestId}`);
  if (roomId === state.current && data?.length) {
    state.oldestId = data.at(-1).id;
    await renderMessages(data.reverse(), { prepend: true });
  }
  state.loadingOlder = false;
}

// Online users ----------------------------------------------------------------------------------
function renderOnline(users) {
  $('#online').replaceChildren(
    ...users
      .filter((user) => String(user.id) !== String(state.me.id))
      .map((user) => element('li', { 'data-user': user.id, title: 'Open a private conversation', onclick: () => openPrivateRoom(user.id) }, user.username)),
  );
}

async function loadOnline() {
  const { data } = await request('GET', '/chat/users/online');
  const users = Object.values(data ?? {});
  for (const user of users) state.names.set(String(user.id), user.username);
  renderOnline(users);
}

// Live events -----------------------------------------------------------------------------------
function followChat() {
  const source = new EventSource('/chat/stream');
  source.onmessage = async (event) => {
    const { type, data } = JSON.parse(event.data);
    if (type === 'message') {
      if (data.roomId === state.current) await renderMessages([data]);
      else $('#rooms').querySelector(`[data-room="${data.roomId}"]`)?.classList.add('unread');
    } else if (type === 'show.room') {
      state.rooms.set(data.id, data);
      renderRooms();
      $('#rooms').querySelector(`[data-room="${data.id}"]`)?.classList.add('unread');
    } else if (type === 'user.connected' || type === 'user.disconnected') {
      await loadOnline();
    } else if (type === 'stream.gap') {
      await loadRooms();
      await openRoom(state.current);
    }
  };
}

async function followNotifications() {
  const { status, data } = await request('POST', '/ui/api/stream-token');
  if (status !== 200) return;
  const token = data.access_token;
  const source = new EventSource(`/notify/sse?token=${encodeURIComponent(token)}`);
  source.onmessage = (event) => {
    const notification = JSON.parse(event.data);
    if (notification.id === '' || $('#notifications').querySelector(`[data-notification="${notification.id}"]`)) return;
    const text = typeof notification.payload === 'string' ? notification.payload : JSON.stringify(notification.payload);
    const ack = element('button', { class: 'small', onclick: () => acknowledge(notification.id, token) }, 'Acknowledge');
    $('#notifications').append(element('li', { 'data-notification': notification.id }, element('span', {}, text), ack));
    updateNotificationCount();
  };
  // The stream token is short-lived: when the server closes the stream, fetch a new one.
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) setTimeout(followNotifications, 1000);
  };
}

async function acknowledge(id, token) {
  const { status } = await request('POST', '/notify/api/message/acknowledge', { message_ids: [id] }, token);
  if (status === 200) {
    $('#notifications').querySelector(`[data-notification="${id}"]`)?.remove();
    updateNotificationCount();
  }
}

function updateNotificationCount() {
  $('#notification-count').textContent = String($('#notifications').children.length);
}

// Start -----------------------------------------------------------------------------------------
async function start(me) {
  state.me = { ...me, id: String(me.id) };
  state.names.set(state.me.id, me.username);
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#whoami').textContent = me.username;
  $('#admin-link').hidden = !me.admin;
  followChat();
  await Promise.all([loadRooms(), loadOnline()]);
  await openRoom('0');
  await followNotifications();
}

async function boot() {
  $('#login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const body = { username: form.get('username') };
    if (form.get('password')) body.password = form.get('password');
    const { status, data } = await request('POST', '/chat/login', body);
    if (status !== 200) {
      $('#login-error').textContent = data?.message ?? 'Login failed';
      return;
    }
    const me = await request('GET', '/ui/api/me');
    await start(me.data);
  });
  $('#send-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = $('#message-input');
    const text = input.value;
    if (!text.trim()) return;
    input.value = '';
    const { status } = await request('POST', `/chat/room/${state.current}/messages`, { message: text });
    if (status !== 201) input.value = text;
  });
  $('#messages').addEventListener('scroll', () => {
    if ($('#messages').scrollTop < 40) void loadOlder();
  });
  $('#logout').addEventListener('click', async () => {
    await request('POST', '/chat/logout');
    location.reload();
  });
  const me = await request('GET', '/ui/api/me');
  if (me.status === 200) await start(me.data);
  else $('#login').hidden = false;
}

void boot();
