// Socket.IO connections to the gateway (same origin as the page).

import { io } from 'socket.io-client';

/** A token given in the page address (?token=…) for a gateway that asks for one. */
export function token() {
  try {
    return new URLSearchParams(window.location.search).get('token') || undefined;
  } catch {
    return undefined;
  }
}

/** A new connection of its own (each chart has one, so each has its own stream). */
export function connect() {
  const t = token();
  return io({
    path: '/socket.io',
    forceNew: true,
    transports: ['websocket', 'polling'],
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 2000,
    randomizationFactor: 0.2,
    auth: t ? { token: t } : undefined,
    // Marks the connection as this app's, so QuantumFlux never captures its own chart's traffic
    // when the chart is open in the same Chrome as PocketOption.
    query: t ? { client: 'quantumflux', token: t } : { client: 'quantumflux' },
  });
}
