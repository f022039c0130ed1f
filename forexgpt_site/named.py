"""Declarations by name - strategies, calibration methods, import formats - in the order they were
registered (the order pages offer them). Plain Python, no Django: the engines keep theirs here."""

from __future__ import annotations

from collections.abc import Callable


class NamedRegistry(dict):
    """name -> declaration (anything with a `name`). Read like a dict; `register`, `unregister` and
    `lookup` say what is wrong in the words of the declarations it holds (`a_kind`: "a strategy")."""

    def __init__(
        self,
        a_kind: str,
        *,
        unknown: Callable[[str, tuple[str, ...]], Exception],
        max_length: int | None = None,
        reserved: tuple[str, ...] = (),
    ):
        super().__init__()
        self.a_kind, self.unknown, self.max_length, self.reserved = a_kind, unknown, max_length, reserved

    def register(self, item):
        """Add `item` under its name; refuses a name too long or already taken (or reserved)."""
        name = item.name
        if self.max_length is not None and (not isinstance(name, str) or not 0 < len(name) <= self.max_length):
            raise ValueError(f"{self.a_kind}'s name is 1 to {self.max_length} characters, not {name!r}")
        if name in self or name in self.reserved:
            raise ValueError(f"{self.a_kind} named {name!r} is already registered")
        self[name] = item
        return item

    def unregister(self, name: str) -> None:
        del self[self.lookup(name).name]

    def lookup(self, name: str):
        """The declaration named `name`; the `unknown` error, naming the registered ones, otherwise."""
        try:
            return self[name]
        except (KeyError, TypeError):
            raise self.unknown(name, tuple(self)) from None
