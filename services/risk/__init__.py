"""The risk rules: one implementation for real, demo and paper trading (a shared library, pure).

:mod:`.rules` says whether an intended order may be placed and with what stake; :mod:`.tally`
keeps the running results the rules look at (today's profit, losses in a row, orders in the
last hour). The trader applies them to the broker's account, paper trading to each paper book.
"""
