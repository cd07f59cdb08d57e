"""Where a walk over a bucket's index is, and the rule that keeps it exact (pure, no I/O).

Simperium lists a bucket's index most recently changed first, a page at a time. Each page says
which version of the index it lists (``current``: the cv of the bucket's newest change) and,
while more remain, the ``mark`` where the next page starts. An object that another client
changes gets a new cv, so it moves to the front of the index. A server may keep listing the
index as it was when the walk began (the local server does: its marks pin that version); a
server that lists the index as it is now skips an object that moved to the front before the
walk reached it. Restarting from the front with an offset (what cursors used to do) does worse:
it repeats one object and skips another.

So a walk only ever continues from a mark the server gave it, and remembers two things: the cv
its first page was at, and the ids it has yielded. A page that lists another version than the
first one means objects moved while the walk went on: once the listing ends, the walk reads the
objects changed since its first cv (``index?since=cv``, documented) and yields those it has not
yielded yet, in another pass that follows the same rule. Every object that existed when the walk
began and still exists at its end is yielded once, at the state it was read in or a newer one;
an object created meanwhile, at most once.

The state is plain data (:class:`Walk`): the sync shell in ``walker.py`` drives it through HTTP,
``cursor.py`` turns it into a page cursor, and an async shell can drive it the same way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

__all__ = ["Walk", "current_of"]


@dataclass
class Walk:
    """One walk: the phase it is in, where its next page starts, and what it has yielded.

    A phase is the main listing (``since`` None) or a pass over the objects changed since
    ``since``. ``start`` is the index version the phase's first page listed; ``moved`` says a
    later page of the phase listed another one.
    """

    start: str | None = None
    since: str | None = None
    mark: str | None = None
    moved: bool = False
    seen: set[str] = field(default_factory=set)
    done: bool = False
    # Ids yielded by whole pages of the listing, each page's joined in one string (a third of
    # the memory of a set): a set is built only if a pass over what moved needs one.
    listed: list[str] = field(default_factory=list, repr=False)

    def read(self, current: object) -> None:
        """Note the index version of the page just read at ``mark``."""
        version = current if isinstance(current, str) and current else None
        if self.mark is None:
            # The phase's first page (again, when a cursor re-reads it): the phase lists the
            # index from here on, and every change before it is in this listing.
            self.start = version
        elif version != self.start:
            self.moved = True

    def advance(self, following: object, listed: int) -> None:
        """Move past the page just read: to ``following``, or to the next phase or the end."""
        if isinstance(following, str) and following and listed:
            self.mark = following
            return
        if self.moved and self.start is not None:
            self.since, self.start, self.mark, self.moved = self.start, None, None, False
        else:
            self.done = True

    def record(self, items: list[str]) -> None:
        """Note a page of ids as yielded (the listing itself names each object once)."""
        self.listed.append("\n".join(items))  # an id has no newline (see protocol.ID_PATTERN)

    def yielded(self) -> set[str]:
        """Every id yielded so far."""
        for items in self.listed:
            self.seen.update(items.split("\n") if items else ())
        self.listed.clear()
        return self.seen

    def fresh(self, item: str) -> bool:
        """Whether ``item`` is to be yielded (not yielded yet); records it as yielded."""
        seen = self.yielded() if self.listed else self.seen
        if item in seen:
            return False
        seen.add(item)
        return True


# The first member of the top-level object, when it is "current" (the local server writes it
# first): read from the page's first bytes, without parsing a page of a thousand objects.
_HEAD = re.compile(rb'\s*\{\s*"current"\s*:\s*"([^"\\]*)"\s*,')


def current_of(body: bytes) -> str | None:
    """The index version (``current``) an index page's JSON says it lists, or None."""
    found = _HEAD.match(body)
    if found:
        return found.group(1).decode("ascii", "replace")
    try:  # a page laid out otherwise: parsed (a page that is no JSON fails when it is loaded)
        page = json.loads(body)
    except ValueError:
        return None
    current = page.get("current") if isinstance(page, dict) else None
    return current if isinstance(current, str) else None
