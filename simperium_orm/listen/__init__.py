"""The change listener: remote changes as blinker signals, resumable from a checkpoint.

``listener`` (threads, rounds, backoff, signals), ``feed`` (one bucket's feed: fetch, decode,
deliver, re-index), ``decode`` (raw changes into one change per version, pure), ``replay`` (each
version's state from ghosts and diffs, pure), ``reads`` (what ghosts cannot give, from the
server), ``coalesce`` (net effects per object, pure), ``ghosts`` (each object's last known server
state), ``checkpoint`` (where a listener resumes).
"""
