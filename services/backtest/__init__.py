"""Backtests of binary-option strategies on collected candles: loader, indicators, engine, service."""
