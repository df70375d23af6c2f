"""Live signals and paper trading: the backtested strategies run on live closed candles."""
