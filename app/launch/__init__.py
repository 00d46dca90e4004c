"""The Launch page's parts (the page itself, ``app/views/launch.py``, lays them out):

* :mod:`~app.launch.fields`: the form's fields, their defaults and presets, kept across page visits.
* :mod:`~app.launch.sources`: the backbone and the data (registry task, upload or path) and their checks.
* :mod:`~app.launch.sizing`: the parameter budget or (l, r) and the live equal-budget table.
* :mod:`~app.launch.configs`: the form turned into run configs, checked, errors placed next to their fields.
* :mod:`~app.launch.submit`: the time estimate, queueing the runs, and what was queued.
"""
