"""The market-data files: one home for how they are named, written, read, listed and checked.

Every service that touches the CSV files goes through this package, so a change to the format is
made here once: :mod:`.columns` (what a row holds), :mod:`.layout` (folders and file names),
:mod:`.rows` (the pure part of writing rows into numbered chunks), :mod:`.reader` (reading candle
files of every accepted variant), :mod:`.gaps` (timeframe and gap finding), :mod:`.datasets`
(series of files, found in both layouts and stitched) and :mod:`.inventory` (what is on disk).
"""
