// The faceedge live view page: one EventSource for events and the board state, one MJPEG <img> per
// camera. Plain browser JavaScript served as is (no build step, nothing loaded from elsewhere); every
// value from the daemon goes into the page as text, never as HTML.
'use strict';

const MAX_EVENTS = 100;
const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function badge(node, text, kind) {
  node.textContent = text;
  node.className = `${node.className
    .split(' ')
    .filter((c) => c !== 'ok' && c !== 'off' && c !== 'warn')
    .join(' ')} ${kind}`.trim();
}

const cameraFigures = new Map();

function ensureCameras(names) {
  for (const name of names) {
    if (cameraFigures.has(name)) continue;
    const figure = $('camera-template').content.firstElementChild.cloneNode(true);
    figure.dataset.camera = name;
    figure.querySelector('.name').textContent = name;
    const img = figure.querySelector('img');
    img.alt = `camera ${name} with the tracked faces drawn on it`;
    img.src = `cameras/${encodeURIComponent(name)}/stream.mjpeg`;
    $('cameras').append(figure);
    cameraFigures.set(name, figure);
  }
}

function showCamera(camera) {
  const figure = cameraFigures.get(camera.name);
  if (!figure) return;
  const online = camera.capture.state === 'online';
  badge(
    figure.querySelector('.capture'),
    camera.capture.reason && !online ? `${camera.capture.state}: ${camera.capture.reason}` : camera.capture.state,
    online ? 'ok' : 'off',
  );
  figure.querySelector('.paused').hidden = !camera.paused;
  figure.querySelector('.fps').textContent = `${camera.fps.toFixed(1)} fps`;
  figure.querySelector('.dropped').textContent = `${camera.dropped} dropped`;
}

function row(dl, label, value, id) {
  dl.append(el('dt', label));
  const dd = el('dd', value);
  if (id) dd.id = id;
  dl.append(dd);
  return dd;
}

function showBoard(board) {
  $('device').textContent = board.device;
  const dl = $('board');
  dl.replaceChildren();
  row(dl, 'version', board.version, 'board-version');
  if (board.model) {
    row(dl, 'model', board.model.id, 'model-id');
    row(dl, 'sha256', board.model.sha256, 'model-sha256').className = 'mono';
    row(dl, 'threshold', board.model.threshold ?? '—', 'model-threshold');
  } else row(dl, 'model', 'none loaded');
  row(
    dl,
    'delegate',
    board.delegate.fallback_reason
      ? `${board.delegate.active} (fallback: ${board.delegate.fallback_reason})`
      : board.delegate.active,
    'delegate',
  );
  row(dl, 'detector', `${board.detector.model} · ${board.detector.delegate}`);
  row(dl, 'MQTT', `${board.mqtt.connected ? 'connected' : 'disconnected'} · outbox ${board.mqtt.outbox_depth}`, 'mqtt');
  row(dl, 'broker', board.mqtt.broker);
  row(
    dl,
    'CPU',
    board.cpu_temperature_c === null ? 'temperature unknown' : `${board.cpu_temperature_c} °C`,
    'cpu-temperature',
  );
  const gpio = $('gpio');
  gpio.replaceChildren();
  const lines = [
    ...board.gpio.outputs.map((l) => ({ ...l, kind: 'output' })),
    ...board.gpio.inputs.map((l) => ({ ...l, kind: 'input' })),
  ];
  if (lines.length === 0) gpio.append(el('li', 'none configured'));
  for (const line of lines) {
    const item = el('li', `${line.kind} ${line.name} `);
    const state = el('span', line.on === null ? 'unknown' : line.on ? 'ON' : 'OFF', 'badge');
    badge(state, state.textContent, line.on ? 'ok' : '');
    item.append(state);
    gpio.append(item);
  }
  const actions = $('rule-actions');
  actions.replaceChildren();
  if (board.rule_actions.length === 0) actions.append(el('li', 'none yet'));
  for (const action of board.rule_actions) {
    const when = typeof action.time === 'number' ? new Date(action.time * 1000).toLocaleTimeString() : '';
    actions.append(el('li', `${when} ${action.description ?? action.kind}`));
  }
  $('snapshots-note').textContent = board.snapshots ? '' : '(face pictures off: http.snapshots)';
  ensureCameras(board.cameras.map((c) => c.name));
  for (const camera of board.cameras) showCamera(camera);
}

function showEvent(event) {
  const list = $('events');
  const item = el('li', null, `event type-${event.type}`);
  item.dataset.track = event.track.id;
  if (event.crop) {
    const img = el('img');
    img.src = event.crop;
    img.alt = `face of ${event.track.id}`;
    item.append(img);
  }
  const text = `${new Date(event.time).toLocaleTimeString()} ${event.camera} ${event.type.toUpperCase()} ${event.track.id} ${event.track.class} ${event.track.score.toFixed(2)}`;
  item.append(el('span', text));
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

function connect() {
  const source = new EventSource('events');
  source.addEventListener('hello', (message) => {
    const hello = JSON.parse(message.data);
    // After a reconnect (daemon restarted) the old MJPEG connections are gone: reopen them.
    for (const [name, figure] of cameraFigures)
      figure.querySelector('img').src = `cameras/${encodeURIComponent(name)}/stream.mjpeg?t=${Date.now()}`;
    ensureCameras(hello.cameras);
    showBoard(hello.board);
    $('events').replaceChildren();
    for (const event of hello.events) showEvent(event);
    badge($('connection'), 'live', 'ok');
  });
  source.addEventListener('board', (message) => showBoard(JSON.parse(message.data)));
  source.addEventListener('event', (message) => showEvent(JSON.parse(message.data)));
  // EventSource reconnects by itself (the daemon asks for 2 s); the badge says so meanwhile.
  source.addEventListener('error', () => badge($('connection'), 'reconnecting…', 'off'));
}

connect();
