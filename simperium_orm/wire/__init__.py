"""Everything that speaks HTTP: the only wing that imports ``requests`` and ``urllib3``.

``request`` (what a request and its answer are), ``retry`` (when to try again), ``http`` (one
attempt over a pooled connection), ``transport`` (the retry loop), ``bucket`` and ``auth`` (the
Simperium endpoints as methods).
"""
