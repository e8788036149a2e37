from ._reduce import ExtremumBase


class ReduceMax(ExtremumBase):
    largest = True
