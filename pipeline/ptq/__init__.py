"""Post-training quantization: MMSE power-of-two fixed point that deploys (:mod:`pipeline.ptq.mmse`,
:mod:`pipeline.ptq.keras`) and the minifloat exploration (:mod:`pipeline.ptq.minifloat`,
:mod:`pipeline.ptq.mac_rtl`)."""
