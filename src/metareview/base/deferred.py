"""Values computed on first use: a field of an immutable result that costs more than the rest
of the result together, and that many callers never read.

:class:`Deferred` is a computation run once, when its value is first asked for;
:func:`deferrable` lets some fields of a dataclass accept a ``Deferred`` in place of their
value, resolved on first read (a frozen dataclass stays frozen: the value replaces the
computation in the instance's ``__dict__``).  Reading the field gives the same value as
computing it at once; equality, ``dataclasses.replace`` and pickling read it like any field.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

__all__ = ["Deferred", "DeferredField", "deferrable"]

T = TypeVar("T")


class Deferred:
    """``compute(*args)``, run on the first call of :meth:`get` and kept.

    :meth:`part` is the ``i``-th item of the value, deferred too: several fields that come
    from one computation (a study interval's four bounds) share one run of it.
    """

    def __init__(self, compute: Callable, *args: Any):
        self._compute: Callable | None = compute
        self._args: tuple = args
        self._value: Any = None

    def get(self) -> Any:
        if self._compute is not None:
            self._value = self._compute(*self._args)
            self._compute, self._args = None, ()
        return self._value

    def part(self, i: int) -> Any:
        """The ``i``-th item of the value, as a ``Deferred`` (typed ``Any``: it is given where
        the field's value would be)."""
        return Deferred(_item, self, i)

    def __repr__(self) -> str:
        return "Deferred(computed)" if self._compute is None else f"Deferred({self._compute.__name__})"


def _item(deferred: Deferred, i: int) -> Any:
    return deferred.get()[i]


class DeferredField:
    """The descriptor :func:`deferrable` puts on a field: the value given to ``__init__`` is kept
    in the instance's ``__dict__`` under the field's name, and a ``Deferred`` there is replaced
    by its value on first read."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        try:
            value = obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None
        if type(value) is Deferred:
            value = value.get()
            obj.__dict__[self.name] = value
        return value

    def __set__(self, obj, value) -> None:
        # __init__ of a frozen dataclass sets its fields through object.__setattr__, which
        # lands here; its own __setattr__ still refuses every later assignment
        obj.__dict__[self.name] = value


def deferrable(*names: str) -> Callable[[type[T]], type[T]]:
    """A class decorator, above ``@dataclass``: the fields ``names`` accept a :class:`Deferred`
    for their value (their type and default are unchanged)."""
    def decorate(cls: type[T]) -> type[T]:
        fields = getattr(cls, "__dataclass_fields__", {})
        for name in names:
            if name not in fields:
                raise TypeError(f"{cls.__name__} has no field {name!r} to defer")
            setattr(cls, name, DeferredField(name))
        return cls
    return decorate
