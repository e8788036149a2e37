from .max_pool import MaxPool


class QMaxPool(MaxPool):
    """jiasu::QMaxPool: MaxPool on the quantized values between jiasu's lowered int8 kernels.

    The int8 lowering writes it for DequantizeLinear -> MaxPool -> QuantizeLinear with equal parameters
    (max commutes with a monotone affine map, so this is exact). A torch quantized tensor is pooled as
    it is (torch's quantized max_pool2d, no copy to float); anything else goes to MaxPool.
    """

    domain = "jiasu"

    def run(self, x):
        if x.is_quantized and self.fixed_pads and self.fixed_sym is not None and not self.want_indices:
            return (self.pool(x, self.kernel, self.strides, self.fixed_sym, self.dilations, ceil_mode=self.ceil_mode),)
        return super().run(x.int_repr() if x.is_quantized else x)
