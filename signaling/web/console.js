// console.js — the operators' console: meetings, points, groups, keys, the live view and
// attendance, over the bridge's REST API (README, "Operator API") with the session cookie
// that /console/login sets (HttpOnly: this page never holds the key). Vietnamese first,
// English beside it. Everything shown is set as text, never as HTML: participants type
// their own names.
'use strict';

const state = { me: null, tz: 'Asia/Ho_Chi_Minh', points: [], groups: [], meeting: null, liveTimer: 0, present: '' };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c ?? ''));
  return e;
}

function say(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: 'same-origin',
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401 && path !== '/console/login') showSignin();
    throw new ApiError(res.status, (data.error && data.error.message) || `HTTP ${res.status}`);
  }
  return data;
}

// A failure is said, not thrown away: every button's action goes through this.
function act(fn) {
  return async (ev) => {
    if (ev && ev.preventDefault) ev.preventDefault();
    try {
      await fn(ev);
    } catch (e) {
      say(`Lỗi (error): ${e.message}`, true);
    }
  };
}

// ---- times on the bridge's wall clock ----

function fmt(t, withDate = true) {
  if (!t) return '';
  const opts = { timeZone: state.tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  if (withDate) Object.assign(opts, { year: 'numeric', month: '2-digit', day: '2-digit' });
  return new Intl.DateTimeFormat('vi-VN', opts).format(new Date(t * 1000));
}

// The zone's offset from UTC at unix time t, in seconds.
function zoneOffset(t) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: state.tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(t * 1000)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second) / 1000;
  return wall - t;
}

// "2026-12-07" and "07:30" on the bridge's clock, as unix time.
function wallToUnix(date, time) {
  const [y, mo, d] = date.split('-').map(Number), [h, mi] = time.split(':').map(Number);
  const guess = Date.UTC(y, mo - 1, d, h, mi) / 1000;
  const first = guess - zoneOffset(guess);
  return guess - zoneOffset(first);
}

function todayStart() {
  const now = Math.floor(Date.now() / 1000);
  const day = new Intl.DateTimeFormat('en-CA', { timeZone: state.tz }).format(new Date(now * 1000));
  return wallToUnix(day, '00:00');
}

const STATES = { scheduled: 'đã lên lịch (scheduled)', open: 'đang mở (open)', live: 'đang họp (live)',
  ended: 'đã kết thúc (ended)', cancelled: 'đã hủy (cancelled)' };
const STATUS = { connected: 'đã kết nối (connected)', joining: 'đang vào (joining)', reconnecting: 'đang kết nối lại (reconnecting)',
  missing: 'vắng (missing)' };

// ---- sign in ----

function showSignin() {
  clearInterval(state.liveTimer);
  $('signin').hidden = false;
  $('tabs').hidden = true;
  document.querySelectorAll('.tab').forEach((t) => { t.hidden = true; });
  $('who').textContent = '';
}

async function start() {
  try {
    state.me = await api('GET', '/api/whoami');
  } catch (e) {
    if (e.status === 401) return showSignin();
    return say(`Không kết nối được cầu nối (cannot reach the bridge): ${e.message}`, true);
  }
  state.tz = state.me.time_zone;
  $('signin').hidden = true;
  $('who').textContent = `${state.me.name} — ${state.me.role} · múi giờ (time zone) ${state.tz}`;
  const writer = state.me.role !== 'viewer';
  document.querySelectorAll('.writer').forEach((e) => { e.hidden = !writer; });
  document.querySelectorAll('.admin').forEach((e) => { e.hidden = state.me.role !== 'admin'; });
  await loadPointsAndGroups();
  showTab('meetings');
  // the tabs last: one clicked while the points loaded was switched back to meetings here
  $('tabs').hidden = false;
}

$('signin-form').addEventListener('submit', act(async () => {
  const key = $('key').value.trim();
  await api('POST', '/console/login', { key });
  $('key').value = ''; // the cookie carries the session from here
  say('Đã đăng nhập (signed in)');
  await start();
}));

$('signout').addEventListener('click', act(async () => {
  await api('POST', '/console/logout', {});
  say('Đã đăng xuất (signed out)');
  showSignin();
}));

// ---- tabs ----

function showTab(name) {
  document.querySelectorAll('.tab').forEach((t) => { t.hidden = t.id !== `tab-${name}`; });
  document.querySelectorAll('nav button[data-tab]').forEach((b) => b.classList.toggle('current', b.dataset.tab === name));
  if (name !== 'meetings') closeMeeting();
  const load = { meetings: loadMeetings, points: renderPoints, groups: renderGroups, keys: loadKeys, audit: loadAudit }[name];
  act(load)();
}
document.querySelectorAll('nav button[data-tab]').forEach((b) => b.addEventListener('click', () => showTab(b.dataset.tab)));

// ---- meetings ----

async function loadPointsAndGroups() {
  [state.points, state.groups] = await Promise.all([api('GET', '/api/points'), api('GET', '/api/groups')]);
  const host = document.querySelector('#schedule-form [name=host]');
  host.replaceChildren(el('option', { value: '' }, '— không (none) —'),
    ...state.points.map((p) => el('option', { value: p.id }, p.name)));
  $('schedule-groups').replaceChildren(...state.groups.map((g) =>
    el('label', {}, el('input', { type: 'checkbox', name: 'group', value: g.id }), ` ${g.name} (${g.point_ids.length})`)));
  $('schedule-points').replaceChildren(...state.points.map((p) =>
    el('label', {}, el('input', { type: 'checkbox', name: 'point', value: p.id }), ` ${p.name}`)));
  $('invite-group').replaceChildren(...state.groups.map((g) => el('option', { value: g.id }, g.name)));
}

async function loadMeetings() {
  const list = await api('GET', `/api/meetings?from=${todayStart()}`);
  $('meetings').tBodies[0].replaceChildren(...list.map((m) =>
    el('tr', { class: 'clickable', 'data-id': m.id, onclick: act(() => openMeeting(m.id)) },
      el('td', {}, fmt(m.starts_at)), el('td', {}, fmt(m.ends_at)), el('td', {}, STATES[m.state] || m.state),
      el('td', {}, m.title), el('td', {}, el('button', { type: 'button', class: 'small' }, 'Mở (Open)')))));
  if (!list.length)
    $('meetings').tBodies[0].replaceChildren(el('tr', {}, el('td', { colspan: 5 }, 'Chưa có cuộc họp nào (no meetings)')));
  const form = $('schedule-form');
  if (!form.date.value) form.date.value = new Intl.DateTimeFormat('en-CA', { timeZone: state.tz }).format(new Date());
}

$('schedule-form').addEventListener('submit', act(async () => {
  const f = $('schedule-form');
  const starts = wallToUnix(f.date.value, f.start.value);
  let ends = wallToUnix(f.date.value, f.end.value);
  if (ends <= starts) ends += 86400; // past midnight
  const body = { title: f.title.value.trim(), starts_at: starts, ends_at: ends, open_before_s: Number(f.open.value || 0) * 60 };
  if (f.host.value) body.host_point_id = Number(f.host.value);
  if (f.record.checked) body.record = true;
  const weeks = Number(f.weeks.value || 1);
  if (weeks > 1) body.repeat = { every: 'week', count: weeks };
  const meeting = await api('POST', '/api/meetings', body);
  const groups = [...f.querySelectorAll('input[name=group]:checked')].map((i) => Number(i.value));
  const points = [...f.querySelectorAll('input[name=point]:checked')].map((i) => Number(i.value));
  // the host first, as host; then the groups (the bridge skips points invited already); then
  // the points no group brought
  const invited = new Set();
  if (body.host_point_id) {
    await api('POST', `/api/meetings/${meeting.id}/invitations`, { point_id: body.host_point_id, role: 'host' });
    invited.add(body.host_point_id);
  }
  for (const g of groups) {
    await api('POST', `/api/meetings/${meeting.id}/invitations`, { group_id: g });
    (state.groups.find((x) => x.id === g) || { point_ids: [] }).point_ids.forEach((id) => invited.add(id));
  }
  for (const p of points.filter((id) => !invited.has(id)))
    await api('POST', `/api/meetings/${meeting.id}/invitations`, { point_id: p });
  say(`Đã lên lịch (scheduled): ${meeting.title}${weeks > 1 ? `, ${weeks} buổi (occurrences)` : ''}`);
  f.reset();
  $('schedule').open = false;
  await loadMeetings();
  await openMeeting(meeting.id);
}));

function closeMeeting() {
  clearInterval(state.liveTimer);
  state.liveTimer = 0;
  state.meeting = null;
  $('meeting').hidden = true;
}

async function openMeeting(id) {
  closeMeeting();
  const m = await api('GET', `/api/meetings/${id}`);
  state.meeting = m;
  $('meeting').hidden = false;
  $('meeting').dataset.id = id;
  $('meeting-title').textContent = m.title;
  $('meeting-when').textContent = `${fmt(m.starts_at)} – ${fmt(m.ends_at, false)} · ${STATES[m.state] || m.state}` +
    ` · mở từ (open from) ${fmt(m.opens_at, false)}`;
  $('qr-box').hidden = true;
  $('invitations').tBodies[0].replaceChildren(...m.invitations.filter((i) => !i.revoked).map((inv) => {
    const link = inv.join_link;
    return el('tr', { 'data-point': inv.point_id },
      el('td', {}, inv.point), el('td', {}, inv.role),
      el('td', { class: 'link' }, link || 'hết hạn (expired)'),
      el('td', {}, link ? el('button', { type: 'button', class: 'small', onclick: act(() => copy(link)) }, 'Chép (Copy)') : '',
        ' ', link ? el('button', { type: 'button', class: 'small qr', onclick: () => showQr(inv.point, link) }, 'QR') : ''));
  }));
  $('attendance-csv').href = `/api/meetings/${id}/attendance?format=csv`;
  $('attendance-csv').setAttribute('download', `diem-danh-${id}.csv`);
  $('minutes').href = `/api/meetings/${id}/minutes?format=html`;
  await refreshLive();
  await loadAttendance();
  await loadRecordings();
  state.liveTimer = setInterval(() => act(refreshLive)(), 1000);
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    say('Đã chép liên kết (link copied)');
  } catch {
    window.prompt('Chép liên kết (copy the link):', text);
  }
}

function showQr(point, link) {
  QR.draw($('qr'), link, 4);
  $('qr-label').textContent = `${point} — quét bằng điện thoại (scan with a phone)`;
  $('qr-box').hidden = false;
}

const pct = (v) => (v === null || v === undefined ? '–' : `${v.toFixed(1)} %`);

async function refreshLive() {
  const id = state.meeting && state.meeting.id;
  if (!id) return;
  const live = await api('GET', `/api/meetings/${id}/live`);
  if (!state.meeting || state.meeting.id !== id) return;
  $('live-clock').textContent = fmt(live.now, false);
  // the bridge short of time: every meeting on it sounds worse, and fewer at once would help
  const br = live.bridge || {};
  $('bridge-state').hidden = !(br.mix_late || br.audio_effort === 'reduced');
  $('bridge-state').textContent = br.mix_late
    ? `Máy chủ quá tải: tiếng đến muộn và bị ngắt ở mọi cuộc họp (trộn tiếng chiếm ${br.mix_clock_pct} % thời gian); nên bớt số cuộc họp cùng lúc. (The bridge is overloaded: every meeting's audio is late and broken up; hold fewer meetings at once.)`
    : `Máy chủ bận: tiếng được nén nhẹ tay hơn, chất lượng giảm đôi chút (trộn tiếng chiếm ${br.mix_clock_pct} % thời gian). (The bridge is busy: audio is encoded with less effort, a little lower quality.)`;
  const rows = [];
  for (const p of live.points) {
    const status = el('td', { class: `st-${p.status}` }, STATUS[p.status] || p.status);
    if (!p.participants.length) {
      rows.push(el('tr', { 'data-point': p.point_id, 'data-status': p.status }, el('td', {}, p.name), status,
        el('td', { colspan: 6 }, p.contact ? `liên hệ (contact): ${p.contact}` : '')));
      continue;
    }
    for (const q of p.participants) {
      const l = q.link;
      rows.push(el('tr', { 'data-point': p.point_id, 'data-status': p.status, class: q.speaking ? 'speaking' : '' },
        el('td', {}, p.name), status.cloneNode(true),
        el('td', {}, `${q.name}${q.muted ? ' · tắt mic (muted)' : ''}${q.speaking ? ' · đang nói (speaking)' : ''}`),
        el('td', { class: 'rtt' }, l.rtt_ms === null ? '–' : `${l.rtt_ms} ms`),
        el('td', {}, `${pct(l.loss_down_pct)} / ${pct(l.loss_up_pct)}`),
        el('td', { class: 'kbps' }, `${l.kbps_down} / ${l.kbps_up}`),
        el('td', {}, l.video_off ? 'tắt, thiếu băng thông (off: bandwidth)' : l.video_layer || '–'),
        el('td', {}, pct(l.audio_loss_pct))));
    }
  }
  $('live').tBodies[0].replaceChildren(...rows);
  // attendance changes when someone comes or goes; its times move on slowly otherwise
  const present = live.points.flatMap((p) => p.participants.map((q) => q.id)).join(',');
  if (present !== state.present || Math.floor(live.now) % 10 === 0) {
    state.present = present;
    await loadAttendance();
  }
  if (Math.floor(live.now) % 5 === 0) await loadRecordings();
}

// Whether the meeting records now (and why the last one stopped, if by itself), its files.
async function loadRecordings() {
  const id = state.meeting && state.meeting.id;
  if (!id) return;
  const r = await api('GET', `/api/meetings/${id}/recordings`);
  state.recording = r.recording;
  $('recording-state').textContent = r.recording ? '● đang ghi (recording)'
    : r.error ? `đã dừng vì lỗi: ${r.error} (stopped by an error)` : '';
  $('record-toggle').textContent = r.recording ? 'Dừng ghi hình (Stop recording)' : 'Bắt đầu ghi hình (Start recording)';
  $('recordings').replaceChildren(...r.files.map((f) => el('li', {},
    el('a', { href: f.url, download: `hop-${id}-${f.name}` }, f.name),
    ` — ${f.kind === 'audio' ? 'tiếng (audio, Ogg Opus)' : 'hình (video, WebM)'}, ${(f.bytes / 1048576).toFixed(1)} MB`)));
}

$('record-toggle').addEventListener('click', act(async () => {
  await api('POST', `/api/meetings/${state.meeting.id}/recording`, { recording: !state.recording });
  await loadRecordings();
}));

async function loadAttendance() {
  const id = state.meeting && state.meeting.id;
  if (!id) return;
  const a = await api('GET', `/api/meetings/${id}/attendance`);
  $('attendance').tBodies[0].replaceChildren(...a.points.map((p) => el('tr', { 'data-point': p.point_id },
    el('td', {}, p.point), el('td', {}, p.attended ? 'có (yes)' : 'không (no)'),
    el('td', {}, `${Math.round(p.present_s / 60)} phút (min)`),
    el('td', {}, p.stays.map((s) => `${fmt(s.joined_at, false)}–${s.left_at ? fmt(s.left_at, false) : 'nay (now)'}`).join(', ')),
    el('td', {}, p.rtt_ms === null ? '–' : `${p.rtt_ms} ms`),
    el('td', {}, `${pct(p.loss_down_pct)} / ${pct(p.loss_up_pct)}`), el('td', {}, `${p.video_off_s} s`))));
}

async function endOrCancel(what) {
  const m = state.meeting;
  const ask = what === 'end' ? `Kết thúc "${m.title}" cho mọi người? (End it for everyone?)`
    : `Hủy "${m.title}"? Liên kết sẽ không dùng được nữa. (Cancel it? Its links stop working.)`;
  if (!window.confirm(ask)) return;
  const r = await api('POST', `/api/meetings/${m.id}/${what}`, {});
  say(`${what === 'end' ? 'Đã kết thúc (ended)' : 'Đã hủy (cancelled)'}; ${r.disconnected} người bị ngắt (disconnected)`);
  await loadMeetings();
  await openMeeting(m.id);
}
$('end-meeting').addEventListener('click', act(() => endOrCancel('end')));
$('cancel-meeting').addEventListener('click', act(() => endOrCancel('cancel')));
$('invite-group-go').addEventListener('click', act(async () => {
  const g = Number($('invite-group').value);
  if (!g || !state.meeting) return;
  const r = await api('POST', `/api/meetings/${state.meeting.id}/invitations`, { group_id: g });
  say(`Đã mời ${r.invitations.length} điểm cầu (invited ${r.invitations.length} points)`);
  await openMeeting(state.meeting.id);
}));

// ---- points ----

function renderPoints() {
  const writer = state.me.role !== 'viewer';
  $('points').tBodies[0].replaceChildren(...state.points.map((p) => el('tr', { 'data-id': p.id },
    el('td', {}, p.id), el('td', {}, p.name), el('td', {}, p.kind), el('td', {}, p.link_profile), el('td', {}, p.contact),
    el('td', {}, writer ? el('button', { type: 'button', class: 'small', onclick: () => editPoint(p) }, 'Sửa (Edit)') : '', ' ',
      writer ? el('button', { type: 'button', class: 'small', onclick: act(() => deviceKey(p)) },
        p.has_device_key ? 'Khóa thiết bị mới (new device key)' : 'Khóa thiết bị (device key)') : ''))));
}

// A key for the point's unattended box (diemcau-endpoint --config), shown once.
async function deviceKey(p) {
  if (p.has_device_key && !window.confirm(`Thay khóa thiết bị của ${p.name}? Khóa cũ sẽ hết hiệu lực. (Replace its device key? The old one stops working.)`))
    return;
  const r = await api('POST', `/api/points/${p.id}/device-key`, {});
  $('device-key').hidden = false;
  $('device-key').textContent = `Khóa thiết bị cho ${p.name} — chỉ hiện một lần (device key, shown once): ${r.device_key}`;
  await loadPointsAndGroups();
  renderPoints();
}

function editPoint(p) {
  const f = $('point-form');
  f.id.value = p.id;
  f.name.value = p.name;
  f.kind.value = p.kind;
  f.link_profile.value = p.link_profile;
  f.contact.value = p.contact;
  $('point-save').textContent = 'Lưu (Save)';
}

$('point-form').addEventListener('submit', act(async () => {
  const f = $('point-form');
  const body = { name: f.name.value.trim(), kind: f.kind.value, link_profile: f.link_profile.value, contact: f.contact.value.trim() };
  const p = f.id.value ? await api('PATCH', `/api/points/${f.id.value}`, body) : await api('POST', '/api/points', body);
  say(`Đã lưu điểm cầu (point saved): ${p.name}`);
  f.reset();
  f.id.value = '';
  $('point-save').textContent = 'Thêm điểm cầu (Add point)';
  await loadPointsAndGroups();
  renderPoints();
}));

// ---- groups ----

function renderGroups() {
  const writer = state.me.role !== 'viewer';
  const name = (id) => (state.points.find((p) => p.id === id) || { name: `#${id}` }).name;
  $('groups').replaceChildren(...state.groups.map((g) => {
    const add = el('select', { 'aria-label': 'điểm cầu (point)' },
      ...state.points.filter((p) => !g.point_ids.includes(p.id)).map((p) => el('option', { value: p.id }, p.name)));
    return el('div', { class: 'group', 'data-id': g.id }, el('strong', {}, g.name),
      el('ul', {}, ...g.point_ids.map((id) => el('li', {}, name(id), ' ',
        writer ? el('button', { type: 'button', class: 'small', onclick: act(() => member(g.id, id, false)) }, 'Bỏ (Remove)') : ''))),
      writer && add.options.length
        ? el('span', {}, add, ' ', el('button', { type: 'button', class: 'small add-point', onclick: act(() => member(g.id, Number(add.value), true)) },
          'Thêm vào nhóm (Add to group)'))
        : '');
  }));
  if (!state.groups.length) $('groups').replaceChildren(el('p', {}, 'Chưa có nhóm (no groups yet)'));
}

async function member(group, point, add) {
  await api(add ? 'PUT' : 'DELETE', `/api/groups/${group}/points/${point}`);
  await loadPointsAndGroups();
  renderGroups();
}

$('group-form').addEventListener('submit', act(async () => {
  const f = $('group-form');
  const g = await api('POST', '/api/groups', { name: f.name.value.trim() });
  say(`Đã thêm nhóm (group added): ${g.name}`);
  f.reset();
  await loadPointsAndGroups();
  renderGroups();
}));

// ---- keys and audit ----

async function loadKeys() {
  const keys = await api('GET', '/api/keys');
  $('keys').tBodies[0].replaceChildren(...keys.map((k) => el('tr', {},
    el('td', {}, k.id), el('td', {}, k.name), el('td', {}, k.role), el('td', {}, fmt(k.created_at)),
    el('td', {}, k.revoked_at ? fmt(k.revoked_at) : '–'),
    el('td', {}, k.revoked_at || k.id === state.me.key_id ? ''
      : el('button', { type: 'button', class: 'small', onclick: act(() => revokeKey(k)) }, 'Thu hồi (Revoke)')))));
}

async function revokeKey(k) {
  if (!window.confirm(`Thu hồi khóa "${k.name}"? (Revoke this key?)`)) return;
  await api('POST', `/api/keys/${k.id}/revoke`, {});
  await loadKeys();
}

$('key-form').addEventListener('submit', act(async () => {
  const f = $('key-form');
  const k = await api('POST', '/api/keys', { name: f.name.value.trim(), role: f.role.value });
  $('new-key').hidden = false;
  $('new-key').textContent = `Khóa mới cho "${k.name}" (${k.role}) — chỉ hiện một lần, hãy lưu lại (shown once, keep it): ${k.key}`;
  f.reset();
  await loadKeys();
}));

async function loadAudit() {
  const log = await api('GET', '/api/audit?limit=200');
  $('audit').tBodies[0].replaceChildren(...log.map((e) => el('tr', {},
    el('td', {}, fmt(e.at)), el('td', {}, e.who), el('td', {}, e.action), el('td', {}, e.detail))));
}

start();
