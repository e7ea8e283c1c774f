"""A wrapper that keeps the API token out of reprs, logs and tracebacks."""

from __future__ import annotations


def token_text(text: str) -> str:
    """The token in what was pasted or set: surrounding blanks and a `Bearer ` scheme removed."""
    value = text.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer" and rest:
        value = rest.strip()
    elif value.lower() == "bearer":
        value = ""
    return value


def mask(token: str) -> str:
    """Recognisable but useless: at most the first 6 and last 4 characters, and never more than
    a quarter of the token; a token under 16 characters shows nothing, not even its length."""
    if len(token) < 16:
        return "•" * 8
    tail = min(4, len(token) // 8)
    head = min(6, len(token) // 4 - tail)
    return f"{token[:head]}…{token[-tail:]}"


class Secret:
    """Holds a token; only `.reveal()` gives it back. `str`/`repr` show the masked form."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        value = token_text(value)
        if not value:
            raise ValueError("empty token")
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):  # never pickle a token into a cache by accident
        raise TypeError("Secret cannot be pickled")
