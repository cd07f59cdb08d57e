"""The change listener: remote changes as blinker signals, resumable from a checkpoint.

``listener`` (threads, rounds, backoff, signals), ``feed`` (one bucket's feed: fetch, read what
ghosts cannot give, deliver, re-index), ``decode`` (raw changes into one change per version,
pure), ``replay`` (each version's state from ghosts and diffs, pure), ``coalesce`` (net effects
per object, pure), ``ghosts`` (each object's last known server state), ``checkpoint`` (where a
listener resumes).
"""
