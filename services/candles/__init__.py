"""The candle service: folds ticks into OHLC candles for every asset and timeframe (DESIGN §3).

:mod:`aggregator` is the pure core (values in, values out); :mod:`worker` is the Redis shell,
:mod:`leases` shares the tick partitions between workers, :mod:`cli` is ``qf candles``.
"""
