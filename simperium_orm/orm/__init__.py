"""Models bound to buckets, their managers and querysets.

``model`` (the user's base class), ``state`` (the one owner of an object's saved state),
``manager`` and ``query`` (lazy querysets), ``lookups`` and ``fieldtypes`` (filters, pure),
``bulk`` (``POST /changes`` batches), ``scan`` (fast index pages), ``background`` (one request in
a thread while the caller works).
"""
