"""The local replica: a SQLite mirror of buckets, kept current from the change feed.

``replica`` (the public :class:`Replica`), ``store`` (the file: objects with ghosts, cv, pending
signals), ``sync`` (index, then the feed applied version by version), ``sql`` (filters pushed
into SQL), ``reads`` (objects out of the file), ``lock`` (one syncing process per file).
"""

from simperium_orm.replica.replica import Replica

__all__ = ["Replica"]
