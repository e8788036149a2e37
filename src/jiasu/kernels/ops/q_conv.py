from .q_linear_conv import QLinearConv


class QConv(QLinearConv):
    """jiasu::QConv: QLinearConv's inputs and attributes plus ``relu`` (0/1), a ReLU fused before requantization.

    Written by the int8 lowering (passes/lower_int8.py) in place of DequantizeLinear -> Conv [-> Relu]
    -> QuantizeLinear; its output is a torch quantized tensor (quint8) that the next lowered kernel or
    DequantizeLinear reads without a copy. Runs on torch's prepacked int8 convolution (see :class:`QLinearConv`).
    """

    domain = "jiasu"
    quantized_output = True
