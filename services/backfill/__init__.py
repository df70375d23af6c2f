"""History on demand: older candles paged back through the trader's own page (``qf backfill``, ``qf collect``).

:mod:`.pager` is the pure core (which windows, what an answer adds); :mod:`.worker` the shell that
sends through the page bridge, reads the answers ingest publishes and writes ``data_collect``.
"""
