// The meeting page: joins with the link's meeting and token, sends the camera in three
// simulcast layers (lowest first: the bridge picks the highest for the main slot) and
// receives the main slot plus thumbnails, as signaling/PROTOCOL.md describes.
'use strict';

// The link's parameters: the query's, and the fragment's over them. The bridge puts them all
// in the fragment, which no browser sends to a server: the token is in no log and no Referer,
// and the page is one URL for every meeting, so a browser that has it only asks whether it
// changed. Older links carry the meeting, profile or token in the query, and still work.
const params = new URLSearchParams(location.search);
for (const [k, v] of new URLSearchParams(location.hash.replace(/^#/, ''))) params.set(k, v);
const meeting = Number(params.get('meeting'));
const token = params.get('token');
const slots = Math.min(9, Math.max(1, Number(params.get('slots') || 3)));
const profile = params.get('profile') || 'standard';
// video=0: audio only (a point on a very thin link): it neither sends nor receives video.
const audioOnly = params.get('video') === '0';
const $ = (id) => document.getElementById(id);

// Exposed for tests and for support staff looking at a point's page.
const diemcau = window.diemcau = { pc: null, ws: null, me: null, roster: [], errors: [] };
let localStream = null;

function status(text, isError) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
  if (isError) diemcau.errors.push(text);
}

function send(message) {
  if (diemcau.ws && diemcau.ws.readyState === WebSocket.OPEN)
    diemcau.ws.send(JSON.stringify(Object.assign({ v: 1 }, message)));
}

function makeThumbs() {
  for (let i = 1; i < slots; i++) {
    const fig = document.createElement('figure');
    fig.className = 'tile';
    fig.innerHTML = `<video id="slot${i}" autoplay playsinline muted></video><figcaption id="label${i}">—</figcaption>`;
    $('thumbs').appendChild(fig);
  }
}

// The meeting's side of a roster or roster_changes: always whole.
function rosterMeeting(m) {
  diemcau.meetingLocked = m.locked;
  diemcau.recording = !!m.recording;
  diemcau.recordingError = m.recording_error || '';
  diemcau.removed = m.removed || [];
}

// After the first roster the bridge sends what changed (PROTOCOL.md, roster_changes): entries
// new or different, whole, and the ids that left. The roster stays in order of participant id.
function applyRosterChanges(m) {
  const gone = new Set(m.left);
  const byId = new Map(diemcau.roster.filter((p) => !gone.has(p.participant)).map((p) => [p.participant, p]));
  for (const p of m.participants) byId.set(p.participant, p);
  diemcau.roster = [...byId.values()].sort((a, b) => a.participant - b.participant);
}

// The bridge says who fills each slot ('slots'); the roster gives their point names.
function labelTiles() {
  const byId = new Map(diemcau.roster.map((p) => [p.participant, p]));
  for (let i = 0; i < slots; i++) {
    const label = $('label' + i);
    const who = byId.get((diemcau.slots || [])[i]);
    if (label) label.textContent = who ? `${who.point} — ${who.name}` : '—';
  }
  $('roster').innerHTML = '';
  const host = diemcau.me && diemcau.me.role === 'host';
  for (const p of diemcau.roster) {
    const li = document.createElement('li');
    li.dataset.participant = p.participant;
    // words, not emoji: many district PCs have no emoji font
    li.textContent = `${p.point} (${p.name})${p.reconnecting ? ' — đang kết nối lại (reconnecting)' : p.connected === false ? ' — chưa kết nối (not connected)' : ''}` +
      `${p.host_muted ? ' — chủ trì tắt micro (muted by the host)' : p.muted ? ' — tắt micro' : ''}` +
      `${p.hand ? ` — giơ tay #${p.hand}` : ''}${p.floor ? ' — đang có lời (has the floor)' : ''}` +
      `${p.role === 'observer' ? ' — dự thính (observer)' : ''}${p.participant === diemcau.speaker ? ' — đang nói' : ''}`;
    if (p.participant === diemcau.speaker) li.className = 'speaking';
    if (host && p.participant !== diemcau.me.participant && !p.reconnecting) {
      button(li, p.host_muted ? 'Bật micro (unmute)' : 'Tắt micro (mute)', 'host-mute',
        () => send({ type: 'host_mute', participant: p.participant, muted: !p.host_muted }));
      if (p.role !== 'observer')
        button(li, p.floor ? 'Lấy lại lời (take back)' : 'Trao lời (give the floor)', 'floor',
          () => send(p.floor ? { type: 'take_floor' } : { type: 'give_floor', participant: p.participant }));
      button(li, 'Mời ra (remove)', 'remove', () => {
        if (window.confirm(`Mời ${p.point} ra khỏi cuộc họp? (Remove this point?)`)) send({ type: 'remove', participant: p.participant });
      });
    }
    $('roster').appendChild(li);
  }
  showChairing();
}

function button(parent, text, cls, onclick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = cls;
  b.onclick = onclick;
  parent.appendChild(b);
  return b;
}

// What the chair did, as this page sees it: its own mute, hand and floor; and for the host,
// the queue of hands, mute all, lock, the removed points.
function showChairing() {
  const me = diemcau.roster.find((p) => diemcau.me && p.participant === diemcau.me.participant);
  if (!me) return;
  diemcau.hostMuted = me.host_muted;
  $('chair-note').textContent = me.floor ? 'Bạn đang có lời (you have the floor)'
    : me.host_muted ? 'Chủ trì đã tắt micro của bạn — giơ tay để xin phát biểu (muted by the host: raise your hand to speak)'
      : me.hand ? `Bạn đang giơ tay, thứ ${me.hand} (your hand is raised, #${me.hand})` : '';
  $('hand').textContent = me.hand ? 'Hạ tay (Lower hand)' : 'Giơ tay (Raise hand)';
  $('hand').hidden = me.role === 'observer' || me.role === 'host';
  // everyone is told the meeting is recorded, and the host why a recording stopped by itself
  const rec = $('recording-note');
  rec.hidden = !diemcau.recording && !diemcau.recordingError;
  rec.className = diemcau.recording ? 'on' : 'error';
  rec.textContent = diemcau.recording ? '● Cuộc họp đang được ghi hình (this meeting is being recorded)'
    : diemcau.recordingError ? `Ghi hình đã dừng: ${diemcau.recordingError} (the recording stopped)` : '';
  const host = me.role === 'host';
  $('chair').hidden = !host;
  if (!host) return;
  $('record').textContent = diemcau.recording ? 'Dừng ghi hình (Stop recording)' : 'Ghi hình (Record)';
  const others = diemcau.roster.filter((p) => p.role !== 'host' && p.role !== 'observer');
  diemcau.allMuted = others.length > 0 && others.every((p) => p.host_muted || p.floor);
  $('mute-all').textContent = diemcau.allMuted ? 'Bật micro tất cả (Unmute all)' : 'Tắt micro tất cả (Mute all)';
  $('take-floor').hidden = !diemcau.roster.some((p) => p.floor);
  diemcau.locked = !!diemcau.meetingLocked;
  $('lock').textContent = diemcau.locked ? 'Mở khóa (Unlock)' : 'Khóa họp (Lock)';
  $('hands').innerHTML = '';
  for (const p of diemcau.roster.filter((x) => x.hand).sort((a, b) => a.hand - b.hand)) {
    const li = document.createElement('li');
    li.textContent = `${p.point} (${p.name})`;
    button(li, 'Trao lời (give the floor)', 'give', () => send({ type: 'give_floor', participant: p.participant }));
    $('hands').appendChild(li);
  }
  $('removed').innerHTML = '';
  $('removed-title').hidden = !(diemcau.removed || []).length;
  for (const r of diemcau.removed || []) {
    const li = document.createElement('li');
    li.textContent = r.point;
    button(li, 'Cho vào lại (let back in)', 'readmit', () => send({ type: 'readmit', invitation: r.invitation }));
    $('removed').appendChild(li);
  }
}

async function negotiate() {
  // The bridge's STUN/TURN servers (joined.ice_servers): a point whose firewall blocks UDP
  // reaches the bridge through the TURN relay, over TCP or TLS.
  const iceServers = (diemcau.me && diemcau.me.ice_servers) || [];
  const pc = diemcau.pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', iceServers });
  pc.addTransceiver(localStream.getAudioTracks()[0], { direction: 'sendrecv', streams: [localStream] });
  if (!audioOnly) {
    pc.addTransceiver(localStream.getVideoTracks()[0], {
      direction: 'sendrecv', streams: [localStream],
      // The lowest layer is what thumbnails and thin links get: at 60 kbit/s it fits a
      // 128 kbit/s link whole beside the audio and its RED copy (issue 12: at 150 the point
      // on such a link saw 2-4 fps with long pauses; at 100 only its base temporal layer fit).
      sendEncodings: [
        { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 60000 },
        { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500000 },
        { rid: 'f', maxBitrate: 1500000 },
      ],
    });
    for (let i = 1; i < slots; i++) pc.addTransceiver('video', { direction: 'recvonly' });
  }
  pc.onicecandidate = (e) => send({ type: 'candidate', candidate: e.candidate ? e.candidate.candidate : '' });
  pc.ontrack = (e) => {
    const index = pc.getTransceivers().indexOf(e.transceiver);
    const stream = new MediaStream([e.track]);
    if (e.track.kind === 'audio') $('audio').srcObject = stream;
    else if ($('slot' + (index - 1))) $('slot' + (index - 1)).srcObject = stream;
  };
  pc.onconnectionstatechange = () => {
    // a connection that comes up after the meeting refused or ended it says nothing: the
    // refusal stays on screen (a slow machine finished ICE after the host ended the meeting)
    if (pc.connectionState === 'connected' && pc === diemcau.pc && !FINAL.has(diemcau.lastCode))
      status(`Đã kết nối (connected) — ${diemcau.me.point}`);
    if (pc.connectionState === 'failed' && pc === diemcau.pc) {
      status('Mất kết nối media (media connection failed): kết nối lại (reconnecting)', true);
      if (diemcau.ws) diemcau.ws.close(); // a new join brings a new connection
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  send({ type: 'offer', sdp: pc.localDescription.sdp });
}

async function onMessage(m) {
  switch (m.type) {
    case 'joined':
      diemcau.me = m;
      diemcau.attempt = 0;
      diemcau.joins = (diemcau.joins || 0) + 1;
      status(`Đã vào họp (joined) as ${m.point}, ${m.role}. Connecting media…`);
      $('lobby').hidden = true;
      $('meeting').hidden = false;
      await negotiate();
      break;
    case 'answer':
      await diemcau.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      break;
    case 'candidate':
      if (diemcau.pc && m.candidate) await diemcau.pc.addIceCandidate({ candidate: m.candidate, sdpMLineIndex: 0 });
      break;
    case 'roster':
      diemcau.roster = m.participants;
      rosterMeeting(m);
      labelTiles();
      break;
    case 'roster_changes':
      applyRosterChanges(m);
      rosterMeeting(m);
      labelTiles();
      break;
    case 'slots':
      diemcau.slots = m.slots;
      labelTiles();
      break;
    case 'speaker':
      diemcau.speaker = m.participant;
      labelTiles();
      break;
    case 'audio-rate':
      await setAudioRate(m.max_bitrate);
      break;
    case 'error':
      diemcau.lastErrorAt = Date.now(); // a close that follows keeps this, the clearer one
      diemcau.lastCode = m.code;
      if (['meeting-not-open', 'meeting-full', 'too-many-attempts'].includes(m.code)) diemcau.ws.close(); // ask again later
      status(`${ERROR_WORDS[m.code] ? ERROR_WORDS[m.code] + ' — ' : ''}${m.message} (${m.code})`, true);
      break;
  }
}

// The bridge saw our uplink queue our sound (a thin link): keep the encoder to this rate
// (0: what the answer asked). RED's copy comes on top, as the bridge counts it.
async function setAudioRate(bps) {
  const sender = diemcau.pc && diemcau.pc.getSenders().find((s) => s.track && s.track.kind === 'audio');
  if (!sender) return;
  const p = sender.getParameters();
  if (!p.encodings || !p.encodings.length) return;
  if (bps > 0) p.encodings[0].maxBitrate = bps;
  else delete p.encodings[0].maxBitrate;
  try {
    await sender.setParameters(p);
    diemcau.audioRate = bps;
  } catch (e) {
    console.warn('audio rate not set', e);
  }
}

async function join() {
  if (!meeting || !token) {
    status('Liên kết thiếu mã cuộc họp (this page needs a join link with a meeting and a token).', true);
    return;
  }
  $('join').disabled = true;
  try {
    // rawaudio=1 (tests, measurement): no echo cancellation, noise suppression or gain
    // control, which would treat a steady test tone as noise.
    const raw = params.get('rawaudio') === '1';
    localStream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: !raw, noiseSuppression: !raw, autoGainControl: !raw },
      video: audioOnly ? false : { width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (e) {
    status(`Không mở được camera/micro (camera or microphone unavailable): ${e.message}`, true);
    $('join').disabled = false;
    return;
  }
  $('self').srcObject = localStream;
  const mic = localStream.getAudioTracks()[0];
  if (mic) quietUntilSound(mic).catch((e) => console.warn('microphone sent as it is:', e));
  connect();
}

// The microphone goes out while the clerk has not muted it and the room has been heard once.
function applyMicrophone() {
  const track = localStream && localStream.getAudioTracks()[0];
  if (track) track.enabled = !diemcau.muted && !diemcau.quietRoom;
}

// A quiet room goes out as digital silence until the microphone first carries sound. The
// browser's Opus (libopus: Chromium 156's does as the endpoint's 1.3.1, browser-quiet-room's
// control shows) sends its small DTX frames only for digital silence or for sound well below
// the loudest voice it has heard, so a clerk who listens and has not spoken yet sends the
// room's noise as whole frames, all meeting long for one who never speaks:
// 13-18 kbit/s of a highland point's 64 in the link lab, and 17-50 packets a second that
// the bridge receives, decrypts and buffers for each such page. Held disabled, the track
// gives the encoder zeros, which it sends as DTX (browser-quiet-room, highland tier: 5
// packets a second and 0.5 kbit/s of payload against 17 and 24; their level, 127, lets the
// bridge's kernel filter drop most). The first sound opens it for good and the encoder
// judges from then on, as the native endpoint does (endpoint/media_audio.c, -40 dBFS there
// too). It costs the first 30-40 ms of the first word (browser-quiet-room: a worklet block,
// a message, the next 10 ms of capture). Sound from the loudspeaker that the echo canceller
// leaves may open it early: that only ends the saving sooner.
// It holds only where the page can listen: without an AudioWorklet, or with an
// AudioContext the browser will not start (no click before it: autoplay), the microphone
// goes out as it is. quietstart=0 (measurement): never held.
const FIRST_SOUND_PEAK = 0.01;

async function quietUntilSound(track) {
  if (params.get('quietstart') === '0' || typeof AudioWorkletNode === 'undefined') return;
  const ctx = new AudioContext();
  try {
    await ctx.audioWorklet.addModule('/first_sound.js');
    if (ctx.state !== 'running') await Promise.race([ctx.resume(), new Promise((r) => setTimeout(r, 1000))]);
    if (ctx.state !== 'running') throw new Error(`its audio context stays ${ctx.state}`);
  } catch (e) {
    ctx.close();
    throw e;
  }
  if (track.readyState !== 'live' || diemcau.left) {
    ctx.close();
    return;
  }
  const probe = track.clone(); // heard even while the track itself is held
  const ear = new AudioWorkletNode(ctx, 'dc-first-sound',
    { numberOfInputs: 1, numberOfOutputs: 0, processorOptions: { threshold: FIRST_SOUND_PEAK } });
  ctx.createMediaStreamSource(new MediaStream([probe])).connect(ear);
  diemcau.stopListening = () => {
    diemcau.stopListening = null;
    probe.stop();
    ctx.close();
  };
  const open = () => {
    if (!diemcau.quietRoom) return;
    diemcau.quietRoom = false;
    diemcau.firstSoundAt = performance.now();
    applyMicrophone();
    if (diemcau.stopListening) diemcau.stopListening();
  };
  ear.port.onmessage = open;
  ctx.onstatechange = () => { if (ctx.state !== 'running') open(); }; // deaf now: never hold blind
  diemcau.quietRoom = true;
  applyMicrophone();
}

// What the bridge's refusals and failures mean, in Vietnamese first, as the page's own words
// are: a commune clerk reads this line, and reads its English (the bridge's own message, with
// the details an operator needs) to the district over the phone.
const ERROR_WORDS = {
  'invalid-token': 'Liên kết tham gia không hợp lệ',
  'expired-token': 'Liên kết tham gia đã hết hạn',
  'invitation-revoked': 'Lời mời đã bị thu hồi',
  'unknown-meeting': 'Không tìm thấy cuộc họp',
  'meeting-not-open': 'Cuộc họp chưa mở',
  'meeting-ended': 'Cuộc họp đã kết thúc',
  'meeting-cancelled': 'Cuộc họp đã bị hủy',
  'meeting-locked': 'Cuộc họp đã khóa',
  'meeting-full': 'Cuộc họp đã đủ chỗ',
  'removed-by-host': 'Chủ trì đã mời điểm cầu ra khỏi cuộc họp',
  'media-failed': 'Không kết nối được âm thanh và hình ảnh',
  'shutting-down': 'Máy chủ cuộc họp đang khởi động lại',
  'too-many-attempts': 'Thử quá nhiều lần, xin chờ',
};

// Refusals no retry changes: the page stops and says why. Anything else that ends the
// connection (a lost link, a bridge restarting, media that failed) is retried, quietly and
// for as long as the page is open: a commune's page comes back by itself.
const FINAL = new Set(['invalid-token', 'expired-token', 'invitation-revoked', 'meeting-ended', 'meeting-cancelled',
  'removed-by-host', 'unknown-meeting', 'meeting-locked', 'already-joined']);

function connect() {
  const ws = diemcau.ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  ws.onopen = () => send({
    type: 'join', meeting, token, name: $('name').value.trim() || 'Điểm cầu', profile, slots, roster_changes: true,
  });
  ws.onmessage = (e) => onMessage(JSON.parse(e.data)).catch((err) => status(String(err), true));
  ws.onclose = (e) => {
    if (ws !== diemcau.ws || diemcau.left) return;
    const final = FINAL.has(diemcau.lastCode);
    if (!(Date.now() - (diemcau.lastErrorAt || 0) < 2000))
      status(`Mất kết nối (disconnected)${e.reason ? ': ' + e.reason : ''}`, true);
    if (!final) reconnect();
    else if (diemcau.pc) { // over for good: its media too
      diemcau.pc.close();
      diemcau.pc = null;
    }
  };
}

function reconnect() {
  if (diemcau.retryTimer || diemcau.left) return;
  if (diemcau.pc) diemcau.pc.close();
  diemcau.pc = null;
  diemcau.reconnects = (diemcau.reconnects || 0) + 1;
  // soon at first, then every 2 s; a meeting not open yet, or too many tries, waits longer.
  // Each wait is drawn from half to one and a half of that: pages that lost the bridge together
  // (a restart) would otherwise ask again at the same instant, every time, a storm at each try.
  const base = ['meeting-not-open', 'meeting-full'].includes(diemcau.lastCode) ? 20000 : diemcau.lastCode === 'too-many-attempts' ? 10000
    : Math.min(2000, 250 * 2 ** Math.min(diemcau.attempt || 0, 3));
  const wait = Math.round(base * (0.5 + Math.random()));
  diemcau.retryWaits = [...(diemcau.retryWaits || []).slice(-63), { base, wait }];
  diemcau.attempt = (diemcau.attempt || 0) + 1;
  status(`Đang kết nối lại… (reconnecting in ${(wait / 1000).toFixed(1)} s)`);
  diemcau.retryTimer = setTimeout(() => {
    diemcau.retryTimer = 0;
    diemcau.lastCode = '';
    if (diemcau.ws && diemcau.ws.readyState <= WebSocket.OPEN) diemcau.ws.close();
    connect();
  }, wait);
}

$('join').onclick = join;
$('mute').onclick = () => {
  if (!localStream) return;
  if (diemcau.hostMuted && diemcau.muted) { // its own unmute, while the host's mute holds
    status('Chủ trì đã tắt micro của bạn — giơ tay để xin phát biểu (muted by the host: raise your hand)', true);
    return;
  }
  diemcau.muted = !diemcau.muted;
  applyMicrophone();
  $('mute').textContent = diemcau.muted ? 'Bật micro (Unmute)' : 'Tắt micro (Mute)';
  $('mute').classList.toggle('off', diemcau.muted);
  send({ type: 'mute', audio: diemcau.muted });
};
$('hand').onclick = () => {
  const me = diemcau.roster.find((p) => diemcau.me && p.participant === diemcau.me.participant);
  send({ type: 'hand', raised: !(me && me.hand) });
};
$('mute-all').onclick = () => send({ type: 'mute_all', muted: !diemcau.allMuted });
$('take-floor').onclick = () => send({ type: 'take_floor' });
$('lock').onclick = () => send({ type: 'lock', locked: !diemcau.locked });
$('record').onclick = () => send({ type: 'record', recording: !diemcau.recording });
$('end-meeting').onclick = () => {
  if (window.confirm('Kết thúc cuộc họp cho mọi người? (End the meeting for everyone?)')) send({ type: 'end_meeting' });
};
$('leave').onclick = () => {
  diemcau.left = true;
  send({ type: 'leave' });
  if (diemcau.pc) diemcau.pc.close();
  if (localStream) localStream.getTracks().forEach((t) => t.stop());
  if (diemcau.stopListening) diemcau.stopListening();
  status('Đã rời họp (you left the meeting).');
};
// Another meeting's link opened in this tab changes only the fragment, which loads nothing:
// load the page again (the browser asks whether it changed) to join as that link says.
window.addEventListener('hashchange', () => location.reload());
makeThumbs();
if (params.get('autojoin') === '1') join();
