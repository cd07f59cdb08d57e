"""Fast bucket scans: index pages validated straight from bytes, read ahead, GC paused.

``pages`` turns an index page's JSON text into model objects in one validator pass, with lazy
snapshots; ``readahead`` requests the next page while the current one is validated;
``gcpause`` keeps the cyclic garbage collector out of a page's thousands of allocations.
"""

from simperium_orm.orm.scan.gcpause import gc_paused
from simperium_orm.orm.scan.pages import PageData, PageEntry, TextEntry, load_one, load_page
from simperium_orm.orm.scan.readahead import PageReader, tail_mark

__all__ = [
    "PageData",
    "PageEntry",
    "PageReader",
    "TextEntry",
    "gc_paused",
    "load_one",
    "load_page",
    "tail_mark",
]
