// What the app may claim about its connections, as a pure reducer over what it hears.
//
// The app is "live" only while the gateway connection is up AND the gateway says Chrome is
// connected. When something drops, the app says why; after it comes back a "back again" banner
// shows for BANNER_MS and then hides by itself.

export const BANNER_MS = 3000;

export const initialStatus = {
  gateway: 'connecting', // connecting | connected | disconnected
  gatewayReason: '',
  redis: 'unknown', // connected | disconnected | unknown
  chrome: 'unknown',
  services: {}, // name -> {alive: bool, ...}
  banner: null, // {kind: "problem"|"recovered", text, until?}
  everConnected: false,
};

function readState(v) {
  if (v === true) return 'connected';
  if (v === false) return 'disconnected';
  if (v && typeof v === 'object') {
    if ('connected' in v) return readState(Boolean(v.connected));
    if ('alive' in v) return readState(Boolean(v.alive));
    if ('ok' in v) return readState(Boolean(v.ok));
    if ('state' in v) return readState(v.state);
    if ('status' in v) return readState(v.status);
  }
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (['connected', 'reconnected', 'ok', 'up', 'running', 'alive', 'recovered', 'healthy', 'attached'].includes(s)) {
      return 'connected';
    }
    if (['disconnected', 'down', 'dead', 'stopped', 'error', 'lost', 'detached', 'degraded'].includes(s)) {
      return 'disconnected';
    }
  }
  return 'unknown';
}

/** Services map from {name: {alive,…}} or [{name, alive}] or {name: bool}. */
function readServices(v) {
  const out = {};
  if (Array.isArray(v)) {
    for (const s of v) {
      const name = s && (s.name || s.service);
      if (name) out[name] = { ...s, alive: readState(s) === 'connected' };
    }
  } else if (v && typeof v === 'object') {
    for (const [name, s] of Object.entries(v)) {
      out[name] = { ...(typeof s === 'object' && s ? s : {}), alive: readState(s) === 'connected' };
    }
  }
  return out;
}

/** True when the chart may be shown as live data. */
export function isLive(state) {
  // Without Redis no prices flow either, even with Chrome connected.
  return state.gateway === 'connected' && state.chrome === 'connected' && state.redis !== 'disconnected';
}

/** Why the app is not live, in plain words ('' when it is). */
export function notLiveReason(state) {
  if (state.gateway !== 'connected') {
    return state.gateway === 'connecting'
      ? 'Connecting to the QuantumFlux server…'
      : 'Lost the connection to the QuantumFlux server. Trying again…';
  }
  if (state.redis === 'disconnected') return 'The server lost its database (Redis). Prices are not coming in.';
  if (state.chrome !== 'connected') return 'Chrome is not connected, so no new prices are coming in.';
  return '';
}

function withRecovery(prev, next, now) {
  const wasLive = isLive(prev);
  const nowLive = isLive(next);
  if (!nowLive && (prev.everConnected || next.gateway === 'disconnected')) {
    return { ...next, banner: { kind: 'problem', text: notLiveReason(next) } };
  }
  if (nowLive && !wasLive && prev.banner && prev.banner.kind === 'problem') {
    return { ...next, banner: { kind: 'recovered', text: 'Back online. Live prices again.', until: now + BANNER_MS } };
  }
  if (nowLive && next.banner && next.banner.kind === 'problem') return { ...next, banner: null };
  return next;
}

/**
 * The next state after an event. Events: {type: "connect"} | {type: "disconnect", reason} |
 * {type: "status", payload} (connection_status) | {type: "chrome_reconnected"} |
 * {type: "backend_reconnected"} | {type: "tick"} (a clock tick, hides an old banner).
 */
export function reduceStatus(state, event, now) {
  switch (event.type) {
    case 'connect':
      return withRecovery(state, { ...state, gateway: 'connected', gatewayReason: '', everConnected: true }, now);
    case 'disconnect':
      return withRecovery(
        state,
        {
          ...state,
          gateway: 'disconnected',
          gatewayReason: event.reason || '',
          chrome: 'unknown',
          redis: 'unknown',
          // Without the server nothing is known about the services either.
          services: Object.fromEntries(Object.keys(state.services).map((n) => [n, { alive: null }])),
        },
        now,
      );
    case 'status': {
      const p = event.payload || {};
      const next = { ...state };
      if ('redis' in p) next.redis = readState(p.redis);
      if ('chrome' in p) next.chrome = readState(p.chrome);
      if ('services' in p) next.services = readServices(p.services);
      return withRecovery(state, next, now);
    }
    case 'chrome_reconnected':
      return withRecovery(state, { ...state, chrome: 'connected' }, now);
    case 'backend_reconnected':
      return withRecovery(state, { ...state, redis: 'connected' }, now);
    case 'tick':
      if (state.banner && state.banner.until != null && now >= state.banner.until) {
        return { ...state, banner: null };
      }
      return state;
    default:
      return state;
  }
}
