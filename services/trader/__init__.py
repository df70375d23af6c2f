"""Automated trading through the user's own page.

The pure core takes values and returns values: the settings (:mod:`.config`), the risk rules
shared with paper trading (:mod:`.risk`, :mod:`.tally`), the order book and the ``openOrder``
frame (:mod:`.orders`, :mod:`.deals`), reconciliation after a restart (:mod:`.reconcile`), the
decision for each signal (:mod:`.engine`, :mod:`.status`) and what notices say (:mod:`.notices`).
The shell: the service (:mod:`.worker`) that reads Redis and sends frames through the page, the
order store (:mod:`.store`), notices sent on a thread (:mod:`.notify`) and the commands
(:mod:`.cli`, :mod:`.view`). docs/trading.md says what it decides and how to run it.
"""
