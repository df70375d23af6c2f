"""Ingest: capture the broker's WebSocket frames, decode them into ticks, history and events."""
