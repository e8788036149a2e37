from ._reduce import ExtremumBase


class ReduceMin(ExtremumBase):
    largest = False
