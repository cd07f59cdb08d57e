"""The change listener: remote changes as blinker signals, resumable from a checkpoint.

``listener`` (threads, rounds, backoff, signals), ``feed`` (one bucket's feed: fetch, decode,
deliver, re-index), ``decode`` (raw changes into per-object events, pure), ``checkpoint`` (where a
listener resumes).
"""
