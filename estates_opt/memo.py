"""Values worked out once per object that is never changed in place (a geometry array).

Such objects are not hashable, so :class:`IdentityMemo` keys them by ``id`` with a weak
reference: an entry goes when its object does, and a reused id cannot return another
object's value. It imports nothing of the package, so any stage may use it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    """One value per live object. Safe across threads: two that ask at once may both
    compute it."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[weakref.ref[Any], V]] = {}

    def value_for(self, obj: Any, compute: Callable[[], V]) -> V:
        """``compute()`` the first time it is asked for ``obj``, then the same value while
        ``obj`` lives."""
        key = id(obj)
        known = self._known.get(key)
        if known is not None and known[0]() is obj:
            return known[1]
        value = compute()
        self._known[key] = (weakref.ref(obj, lambda _: self._known.pop(key, None)), value)
        return value

    def __len__(self) -> int:
        return len(self._known)
