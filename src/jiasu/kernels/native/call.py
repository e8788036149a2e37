"""A C kernel call described as data, so that a chain (``jiasu.runtime.chain``) can run it without Python.

A kernel whose C path runs an input offers :meth:`jiasu.kernels.base.Kernel.native_call`: the
function it would call, with every argument fixed for that input's shape except the tensors, which
are markers: :class:`In` (the memory of the kernel's input ``k``) and :class:`Out` (of its output
``k``, which the kernel would allocate). The chain fills the markers with its buffers and calls the
function's ``<name>_entry`` (``entry.h``) from C.

The one contract a kernel must keep: running the call on tensors of the traced inputs' shapes and
strides, and outputs of the traced outputs' shapes and strides, computes exactly what ``run`` does.
So a kernel offers a call only where ``run`` would make none of its own (no copy of an input to
another layout, no activation after the C call), and the chain checks each run that its inputs still
have the traced shapes and strides.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Optional, Sequence


class Arg(ctypes.Union):
    """One argument slot of ``entry.h``'s ``jiasu_arg``."""

    _fields_ = [("p", ctypes.c_void_p), ("i", ctypes.c_long), ("f", ctypes.c_float)]


@dataclass(frozen=True)
class In:
    """The data pointer of the kernel's input ``index``."""

    index: int


@dataclass(frozen=True)
class Out:
    """The data pointer of the kernel's output ``index``."""

    index: int


@dataclass(frozen=True)
class Scratch:
    """A pointer to ``floats`` float32 of working memory the call may overwrite (each chain allocates its own)."""

    floats: int


#: (id of a loaded library, function name) -> (the ctypes function, the address of its ``_entry``). A kernel's
#: ``run`` builds its call every time (see :meth:`NativeCall.invoke`); the lookup and cast cost 2.8 us there, the
#: cache 0.25. A ctypes function keeps a reference to its library, so no id here can be reused by another one.
_FUNCTIONS: dict[tuple[int, str], tuple[Any, int]] = {}


@dataclass(frozen=True)
class NativeCall:
    """One C kernel call: ``function`` (a ctypes function with ``argtypes`` set) on ``values``.

    ``values`` has one entry an argument: a number, a pointer as an int (None for NULL), or an
    :class:`In`/:class:`Out`/:class:`Scratch` marker. ``entry`` is the address of the function's ``<name>_entry``.
    ``alias``: no call at all; output 0 is a view of input ``alias`` (Flatten, Reshape of contiguous
    memory).
    """

    function: Any = None
    entry: int = 0
    values: tuple = ()
    alias: Optional[int] = None

    @classmethod
    def of(cls, lib: ctypes.CDLL, name: str, values: tuple) -> "NativeCall":
        found = _FUNCTIONS.get((id(lib), name))
        if found is None:
            found = _FUNCTIONS[id(lib), name] = (getattr(lib, name), ctypes.cast(getattr(lib, f"{name}_entry"), ctypes.c_void_p).value)
        function, entry = found
        if len(values) != len(function.argtypes):
            raise ValueError(f"{name} takes {len(function.argtypes)} arguments, the call gives {len(values)}")
        return cls(function, entry, tuple(_plain(v) for v in values))

    @classmethod
    def view(cls, index: int = 0) -> "NativeCall":
        """Output 0 is input ``index``'s memory, reshaped: nothing runs."""
        return cls(alias=index)

    def renumbered(self, inputs: dict[int, int]) -> "NativeCall":
        """The same call with its :class:`In` markers renumbered (``inputs``: old index -> new), for a kernel
        that hands its input ``k`` to a helper as the helper's input ``m``."""
        values = tuple(In(inputs.get(v.index, v.index)) if isinstance(v, In) else v for v in self.values)
        alias = inputs.get(self.alias, self.alias) if self.alias is not None else None
        return NativeCall(self.function, self.entry, values, alias)

    def invoke(self, inputs: Sequence[Any], outputs: Sequence[Any]) -> int:
        """Runs the call now, from Python (a step outside a chain), each :class:`In`/:class:`Out` marker the data
        pointer of ``inputs[k]``/``outputs[k]`` (tensors); returns the C function's status. So a kernel spells its
        C arguments once, in the call it builds, for both ways of running it. Not for a view, nor for a call with
        :class:`Scratch` markers (a chain allocates those)."""
        if self.alias is not None:
            raise ValueError("a view runs nothing: output 0 is the input's memory")
        args = []
        for value in self.values:
            if isinstance(value, In):
                args.append(inputs[value.index].data_ptr())
            elif isinstance(value, Out):
                args.append(outputs[value.index].data_ptr())
            elif isinstance(value, Scratch):
                raise ValueError("a call with scratch memory runs only in a chain, which allocates it")
            else:
                args.append(value)
        return self.function(*args)

    def slots(self) -> "ctypes.Array[Arg]":
        """The argument slots with every number and fixed pointer set (markers left NULL, to be filled)."""
        out = (Arg * len(self.values))()
        for k, (kind, value) in enumerate(zip(self.function.argtypes, self.values)):
            if isinstance(value, (In, Out, Scratch)) or value is None:
                continue
            if kind is ctypes.c_float or kind is ctypes.c_double:
                out[k].f = value
            elif kind is ctypes.c_void_p:
                out[k].p = value
            else:
                out[k].i = value
        return out


def _plain(value):
    """A ctypes instance (from :func:`jiasu.kernels.native.fixed_arguments`) as the number it holds."""
    return value.value if isinstance(value, ctypes._SimpleCData) else value


__all__ = ["Arg", "In", "NativeCall", "Out", "Scratch"]
