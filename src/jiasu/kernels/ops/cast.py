from ..base import Kernel, torch_dtype


class Cast(Kernel):
    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.dtype = torch_dtype(self.attr("to"))

    def run(self, x):
        return (x.to(self.dtype),)
