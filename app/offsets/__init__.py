"""The Offsets page's parts (the page itself, ``app/views/offsets.py``, lays them out):

* :mod:`~app.offsets.picking`: which runs can be inspected, and which are picked first.
* :mod:`~app.offsets.live`: offsets computed live from the runs' adapters, on the user's text and on examples.
* :mod:`~app.offsets.stored`: the runs' stored analyses (docs/analyses.md), and starting a missing one.
"""
