"""The simulated broker: a local page and WebSocket server speaking the broker's protocol."""
