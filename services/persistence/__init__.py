"""Persistence: closed candles and live ticks from the streams to chunked, rotating CSV files."""
