"""Open-source firmware flow: IntegerNetwork -> da4ml RTL -> Verilator simulation -> Yosys synthesis.

Modules: :mod:`trace` (the da4ml traced graph, hls4ml ``ap_fixed`` semantics as in
:mod:`pipeline.deploy.emulator`), :mod:`design` (pipelined Verilog + bit-exact check),
:mod:`verilator` (Verilator 5.006 build + simulation), :mod:`yosys` (synthesis and ``stat`` parsing),
:mod:`vendor` (hls4ml ``build()`` when vendor tools exist), :mod:`report` (the stage report).
"""
