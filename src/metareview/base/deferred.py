"""Values computed on first use: a field of an immutable result that costs more than the rest
of the result together, and that many callers never read.

:class:`Deferred` is a computation run once, when its value is first asked for;
:class:`DeferredField` is a dataclass field that accepts a ``Deferred`` in place of its value
and resolves it on first read (a frozen dataclass stays frozen: the value replaces the
computation in the instance's ``__dict__``).  Reading the field gives the same value as
computing it at once; equality, ``dataclasses.replace`` and pickling read it like any field.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["Deferred", "DeferredField"]


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

    def part(self, i: int) -> Deferred:
        return Deferred(_item, self, i)

    def __repr__(self) -> str:
        return "Deferred(computed)" if self._compute is None else f"Deferred({self._compute.__name__})"


def _item(deferred: Deferred, i: int) -> Any:
    return deferred.get()[i]


class DeferredField:
    """A dataclass field whose value may be given as a :class:`Deferred`.

    Declared as the field's class attribute (``ci_low: np.ndarray = DeferredField()``), it
    leaves the field without a default; the value given to ``__init__`` is kept in the
    instance's ``__dict__`` under the field's name, and a ``Deferred`` there is replaced by
    its value on first read.
    """

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            # no class-level value: the dataclass sees a field without a default
            raise AttributeError(self.name)
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
