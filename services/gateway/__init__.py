"""The gateway: candles and status to browsers over Socket.IO, a small REST API, and the web app."""
