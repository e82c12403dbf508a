// The faceedge live view page: one EventSource for events and the board state, and per camera one
// picture stream read with fetch(), each picture drawn on a canvas with its tracked faces (the part's
// x-faceedge-tracks header) drawn over it at the page's own text size. Plain browser JavaScript served as
// is (no build step, nothing loaded from elsewhere); every value from the daemon goes into the page as
// text, never as HTML.
'use strict';

const MAX_EVENTS = 100;
const $ = (id) => document.getElementById(id);
/** Whether this login may enrol (learnWhetherEnrolling): false until the board says otherwise. */
let mayEnrol = false;

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

/** The box colours: CSS custom properties of live-view.css, the one place they are defined. */
function colours() {
  const style = getComputedStyle(document.documentElement);
  const read = (name) => style.getPropertyValue(name).trim();
  return {
    first: read('--class-first'),
    second: read('--class-second'),
    tentative: read('--tentative'),
    ink: read('--label-ink'),
  };
}

/**
 * A box's colour from its class's position in the model's labels: the page's two class colours for the
 * first two labels (a two-label model looks as before), evenly spread hues for a third and later
 * (age bands), the first colour for `unknown` (-1).
 */
function labelColour(palette, index) {
  if (index <= 0) return palette.first;
  if (index === 1) return palette.second;
  return `hsl(${(index * 137.5) % 360} 65% 42%)`;
}

/**
 * What the models after the first say of a track (`classifiers:`): ` · age 30-44 81%` per model, in
 * config order; '' with one model (its decision is the class already shown).
 */
function moreAttributes(track) {
  return Object.entries(track.attributes ?? {})
    .slice(1)
    .map(([name, a]) => ` · ${name} ${a.label} ${Math.round(a.score * 100)}%`)
    .join('');
}

/**
 * Who a recognized face is, for labels: the name (or `unknown`) and, unless live, its liveness outcome;
 * empty where the board does not recognize people.
 */
function personText(person, liveness) {
  if (person === undefined) return '';
  const name = person ?? 'unknown';
  return liveness && liveness !== 'live' ? ` ${name} (liveness ${liveness})` : ` ${name}`;
}

/** The label over a face: track id, class and confidence, every further model's, the person; `?` until its `new` event is out. */
function trackLabel(track) {
  const text = `${track.id} ${track.class} ${Math.round(track.score * 100)}%${moreAttributes(track)}${personText(track.person, track.liveness)}`;
  return track.confirmed ? text : `${text} ?`;
}

const CRLF2 = [13, 10, 13, 10];

/** Index of the blank line ending a part's headers in `bytes`, or -1. */
function headersEnd(bytes) {
  outer: for (let i = 0; i + 3 < bytes.length; i++) {
    for (let k = 0; k < 4; k++) if (bytes[i + k] !== CRLF2[k]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Reads a multipart/x-mixed-replace stream and calls `onPart({ jpeg, headers })` for each picture. The
 * server sends a content-length with every part, so no boundary has to be searched in the JPEG bytes.
 */
async function readParts(url, signal, onPart) {
  const response = await fetch(url, { signal, cache: 'no-store' });
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  const reader = response.body.getReader();
  const text = new TextDecoder();
  let buffer = new Uint8Array(0);
  for (;;) {
    for (;;) {
      const end = headersEnd(buffer);
      if (end < 0) break;
      const headers = {};
      for (const line of text.decode(buffer.subarray(0, end)).split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length']);
      if (!Number.isFinite(length)) throw new Error('picture stream part without content-length');
      if (buffer.length < end + 4 + length) break;
      onPart({ jpeg: buffer.slice(end + 4, end + 4 + length), headers });
      buffer = buffer.subarray(end + 4 + length);
    }
    const { value, done } = await reader.read();
    if (done) return;
    const grown = new Uint8Array(buffer.length + value.length);
    grown.set(buffer);
    grown.set(value, buffer.length);
    buffer = grown;
  }
}

/**
 * One camera's picture: its stream, the newest decoded picture (older ones waiting to be decoded are
 * replaced, never queued), drawn once per animation frame. `dataset.pictures` counts pictures drawn.
 */
class CameraView {
  constructor(name, figure) {
    this.name = name;
    this.figure = figure;
    this.canvas = figure.querySelector('canvas');
    this.context = this.canvas.getContext('2d');
    this.waiting = null; // a received part not decoded yet
    this.decoding = false;
    this.shown = null; // { bitmap, tracks } on the canvas or about to be
    this.drawScheduled = false;
    this.drawn = 0;
    this.controller = null;
    figure.dataset.pictures = '0';
  }

  /** (Re)opens the picture stream; a stream that ends or fails is opened again a second later. */
  open() {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const url = `cameras/${encodeURIComponent(this.name)}/stream.mjpeg`;
    const again = () => {
      if (this.controller === controller) setTimeout(() => this.controller === controller && this.open(), 1000);
    };
    readParts(url, controller.signal, (part) => this.received(part)).then(again, again);
  }

  received(part) {
    this.waiting = part;
    if (!this.decoding) this.decodeNext();
  }

  async decodeNext() {
    const part = this.waiting;
    this.waiting = null;
    if (!part) return;
    this.decoding = true;
    try {
      const bitmap = await createImageBitmap(new Blob([part.jpeg], { type: 'image/jpeg' }));
      let tracks = [];
      try {
        tracks = JSON.parse(part.headers['x-faceedge-tracks'] ?? '[]');
      } catch {
        // A picture without readable tracks is still worth showing.
      }
      this.shown?.bitmap.close();
      this.shown = { bitmap, tracks };
      if (!this.drawScheduled) {
        this.drawScheduled = true;
        requestAnimationFrame(() => this.draw());
      }
    } catch {
      // A picture the browser cannot decode is skipped; the next one replaces it.
    } finally {
      this.decoding = false;
      if (this.waiting) this.decodeNext();
    }
  }

  /** Draws the picture at the canvas's size on screen, then each face's box and label at the page's text size. */
  draw() {
    this.drawScheduled = false;
    const { bitmap, tracks } = this.shown;
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    canvas.style.aspectRatio = `${bitmap.width} / ${bitmap.height}`;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round((width * bitmap.height) / bitmap.width));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const g = this.context;
    g.drawImage(bitmap, 0, 0, width, height);
    const scale = width / bitmap.width;
    const palette = colours();
    const fontPx = Math.round(13 * ratio);
    const pad = Math.round(3 * ratio);
    g.font = `600 ${fontPx}px system-ui, sans-serif`;
    g.textBaseline = 'top';
    g.lineWidth = Math.max(2, Math.round(2 * ratio));
    for (const track of tracks) {
      const colour = !track.confirmed ? palette.tentative : labelColour(palette, track.label_index);
      const x = track.box.x * scale;
      const y = track.box.y * scale;
      g.strokeStyle = colour;
      g.strokeRect(x, y, track.box.width * scale, track.box.height * scale);
      const label = trackLabel(track);
      const labelWidth = g.measureText(label).width + 2 * pad;
      const labelHeight = fontPx + 2 * pad;
      // Above the box, or inside its top edge when the box touches the top of the picture.
      const labelY = y - labelHeight >= 0 ? y - labelHeight : y;
      const labelX = Math.min(Math.max(0, x), Math.max(0, width - labelWidth));
      g.fillStyle = colour;
      g.fillRect(labelX, labelY, labelWidth, labelHeight);
      g.fillStyle = palette.ink;
      g.fillText(label, labelX + pad, labelY + pad);
    }
    canvas.setAttribute('aria-label', `camera ${this.name}: ${tracks.length} face(s) tracked`);
    this.drawn++;
    this.figure.dataset.pictures = String(this.drawn);
  }
}

const cameraViews = new Map();
/** Pictures drawn per camera at the last board tick, for the pictures/s shown. */
const drawnAtTick = new Map();

function ensureCameras(names) {
  for (const name of names) {
    if (cameraViews.has(name)) continue;
    const figure = $('camera-template').content.firstElementChild.cloneNode(true);
    figure.dataset.camera = name;
    figure.querySelector('.name').textContent = name;
    $('cameras').append(figure);
    const view = new CameraView(name, figure);
    cameraViews.set(name, view);
    view.open();
  }
}

function showCamera(camera, time) {
  const view = cameraViews.get(camera.name);
  if (!view) return;
  const figure = view.figure;
  const online = camera.capture.state === 'online';
  badge(
    figure.querySelector('.capture'),
    camera.capture.reason && !online ? `${camera.capture.state}: ${camera.capture.reason}` : camera.capture.state,
    online ? 'ok' : 'off',
  );
  figure.querySelector('.paused').hidden = !camera.paused;
  figure.querySelector('.fps').textContent = `${camera.fps.toFixed(1)} fps`;
  const last = drawnAtTick.get(camera.name);
  if (last && time > last.time) {
    const shown = ((view.drawn - last.drawn) * 1000) / (time - last.time);
    figure.querySelector('.shown').textContent = `${shown.toFixed(1)} shown/s`;
  }
  drawnAtTick.set(camera.name, { drawn: view.drawn, time });
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
  for (const camera of board.cameras) showCamera(camera, performance.now());
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
  const text = `${new Date(event.time).toLocaleTimeString()} ${event.camera} ${event.type.toUpperCase()} ${event.track.id} ${event.track.class} ${event.track.score.toFixed(2)}${moreAttributes(event.track)}${personText(event.track.person?.name, event.track.liveness?.outcome)}`;
  item.append(el('span', text));
  if (event.type !== 'end' && mayEnrol) {
    // Clicking a face's event picks it for "Enrol a face".
    item.title = 'pick this face to enrol';
    item.addEventListener('click', () => {
      $('enrol-camera').value = event.camera;
      $('enrol-track').value = event.track.id;
      $('enrol-name').focus();
    });
  }
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

function connect() {
  const source = new EventSource('events');
  source.addEventListener('hello', (message) => {
    const hello = JSON.parse(message.data);
    // After a reconnect (daemon restarted) the old picture streams are gone: reopen them.
    for (const view of cameraViews.values()) view.open();
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

/**
 * "Enrol this face": a session token first (GET enrol/session sets an HttpOnly cookie and returns the CSRF
 * token the POST must carry), then the POST. The board answers with each photo's outcome, shown as text.
 */
async function enrol(form) {
  const result = $('enrol-result');
  result.textContent = 'enrolling…';
  try {
    const session = await fetch('enrol/session', { cache: 'no-store', credentials: 'same-origin' });
    const { token, header, error } = await session.json();
    if (!session.ok) throw new Error(error ?? `HTTP ${session.status}`);
    const data = Object.fromEntries(new FormData(form));
    const response = await fetch('enrol', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', [header]: token },
      body: JSON.stringify({ camera: data.camera, track: data.track, name: data.name }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error ?? `HTTP ${response.status}`);
    result.textContent = `enrolled ${answer.name}: ${answer.embeddings} embedding(s), gallery version ${answer.version}`;
  } catch (err) {
    result.textContent = `not enrolled: ${err.message}`;
  }
}

/**
 * Whether this login may enrol from here: the board says so at GET enrol/session (enrol: true only with
 * http.auth, a login in http.enrol_users and recognition on). The page never guesses: until the answer, and on
 * any refusal or failure, "Enrol a face" stays hidden.
 */
async function learnWhetherEnrolling() {
  try {
    const response = await fetch('enrol/session', { cache: 'no-store', credentials: 'same-origin' });
    const answer = response.ok ? await response.json() : null;
    mayEnrol = answer?.enrol === true;
  } catch {
    mayEnrol = false;
  }
  $('enrol').hidden = !mayEnrol;
}
void learnWhetherEnrolling();

$('enrol-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void enrol(e.target);
});

connect();
