"""Verilog text of the folded architecture (:mod:`pipeline.rtl.folded`): pure string generation.

Per layer module ``<top>_layer<k>`` (ports ``clk``, ``rst``, ``in_valid``, ``in_ready``, ``in_data``,
``out_valid``, ``out_ready``, ``out_data``; element ``i`` of a packed vector at bits
``[i*W +: W]``):

* ``in_ready = !busy && !finish && !out_valid``; a handshake loads the input shift registers;
* ``busy`` for ``C`` cycles: ``acc_j <= (count == 0 ? BIAS_j : acc_j) + sum_l x_l * w_lj[count]``,
  all ``P`` bits wide (two's complement, wraps modulo ``2**P``);
* ``finish``: ``out_data <= requantize(acc)``, ``out_valid <= 1`` until ``out_ready``.

Structure, chosen so that Yosys synthesizes a whole model in well under a minute (a flat netlist
with the weights as ``case`` ROMs spent > 7 CPU-minutes in ``synth_xilinx``'s techmap, and ABC
merged each ROM into its multiplier):

* the weights of lane ``l`` are a ROM (a Verilog memory with an ``initial`` block, :func:`_rom`)
  read synchronously one cycle ahead (``rom_address`` = the next ``count``), as a weight memory of
  FINN's matrix-vector unit or of hls4ml's ``Resource`` strategy is; with ``rom_style = "block"``
  Yosys maps it to block RAM, so it costs no LUTs or flip-flops (and is the same in every
  accumulator choice);
* each product is an instance of ``<layer>_mul`` and each neuron's accumulator, lane adders and
  requantizer an instance of ``<layer>_neuron``, both ``(* keep_hierarchy *)``: Yosys synthesizes
  each once per layer and ``stat`` counts it once per instance. The accumulator width ``P`` only
  changes ``<layer>_neuron``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

ROM_STYLE = "block"
"""Default ``rom_style`` attribute of the weight ROMs (:func:`_rom`)."""

if TYPE_CHECKING:
    from pipeline.rtl.folded import FoldedLayer, FoldedPlan


def _literal(value: int, bits: int) -> str:
    """A ``bits``-wide Verilog literal of the two's-complement pattern of ``value``."""
    return f"{bits}'h{int(value) % (1 << bits):x}"


def _rom_word(weights: np.ndarray, weight_bits: int) -> str:
    """Concatenation of ``weights`` (element j at bits ``[j*M +: M]``) as one hex literal."""
    word = 0
    for index, weight in enumerate(weights):
        word |= (int(weight) % (1 << weight_bits)) << (index * weight_bits)
    return _literal(word, len(weights) * weight_bits)


def _rom(name: str, words: np.ndarray, weight_bits: int, rom_style: str) -> list[str]:
    """The weight ROM of one lane: ``C`` words (word ``t`` = the lane's weights of cycle ``t``, neuron
    ``j`` at bits ``[j*M +: M]``) as a Verilog memory with an ``initial`` block, read synchronously:
    ``<name> <= <name>_mem[rom_address]`` (the word of the next cycle).

    ``rom_style`` (Vivado's and Yosys' attribute): ``"block"`` maps to block RAM (RAMB18E2/RAMB36E2
    for ``-family xcup``), ``"logic"`` to LUTs plus an output register (Yosys 0.23's ``memory_map``).
    ``"distributed"`` fails in Yosys 0.23 (``no valid mapping``: its LUT-RAMs need a write port).
    """
    cycles, width = len(words), words.shape[1] * weight_bits
    lines = [
        f'    (* rom_style = "{rom_style}" *) reg [{width - 1}:0] {name}_mem [0:{cycles - 1}];',
        "    initial begin",
    ]
    lines += [
        f"        {name}_mem[{step}] = {_rom_word(words[step], weight_bits)};" for step in range(cycles)
    ]
    lines.append("    end")
    lines.append(f"    reg [{width - 1}:0] {name};")
    lines.append(f"    always @(posedge clk) {name} <= {name}_mem[rom_address];")
    return lines


def _requantize(folded: FoldedLayer, source: str, target: str) -> list[str]:
    """Combinational ReLU + round half to even + saturate from the ``P``-bit ``source`` into ``target``.

    Mirrors :func:`pipeline.deploy.emulator.round_half_even_shift` and ``np.clip``:
    ``(v + 2**(s-1) - 1 + bit_s(v)) >>> s`` for a right shift ``s > 0``, ``v << -s`` otherwise.
    """
    layer, bits = folded.layer, folded.accumulator_bits
    out = folded.output_format
    lines = []
    value = f"({source}[{bits - 1}] ? {bits}'sd0 : {source})" if layer.activation == "relu" else source
    if layer.output is None:
        return [f"    assign {target} = {value};"]
    shift = folded.accumulator_fractional_bits - out.fractional_bits
    width = max(bits, shift + 1) + 2 if shift > 0 else bits - shift + 1
    lines.append(f"    wire signed [{bits - 1}:0] {target}_v = {value};")
    lines.append(f"    wire signed [{width - 1}:0] {target}_x = {target}_v;")
    if shift > 0:
        offset = (1 << (shift - 1)) - 1
        lines.append(
            f"    wire signed [{width - 1}:0] {target}_r = $signed({target}_x + {_literal(offset, width)}"
            f" + {{{{({width - 1}){{1'b0}}}}, {target}_x[{shift}]}}) >>> {shift};"
        )
    else:
        lines.append(f"    wire signed [{width - 1}:0] {target}_r = {target}_x <<< {-shift};")
    low, high = _literal(out.raw_min, width), _literal(out.raw_max, width)
    lines.append(
        f"    assign {target} = ($signed({target}_r) > $signed({high})) ? {_literal(out.raw_max, out.bits)} :"
        f" ($signed({target}_r) < $signed({low})) ? {_literal(out.raw_min, out.bits)} :"
        f" {target}_r[{out.bits - 1}:0];"
    )
    return lines


def _extend(product: str, product_bits: int, p_bits: int) -> str:
    """``product`` sign-extended (or wrapped) to the ``p_bits`` accumulator."""
    if p_bits == product_bits:
        return product
    if p_bits > product_bits:
        return f"{{{{({p_bits - product_bits}){{{product}[{product_bits - 1}]}}}}, {product}}}"
    return f"{product}[{p_bits - 1}:0]"


def render_multiplier(name: str, x_ext: int, w_bits: int) -> str:
    """``name``: one signed ``x_ext`` x ``w_bits`` multiplier (a processing element's product).

    Ports are plain vectors, read as signed inside (Yosys 0.23 asserts on a signed port connected
    to an unsigned part-select)."""
    product_bits = x_ext + w_bits
    lines = [
        "(* keep_hierarchy *)",
        f"module {name} (",
        f"    input wire [{x_ext - 1}:0] x,",
        f"    input wire [{w_bits - 1}:0] w,",
        f"    output wire [{product_bits - 1}:0] p",
        ");",
        f"    wire signed [{product_bits - 1}:0] product = $signed(x) * $signed(w);",
        "    assign p = product;",
        "endmodule",
    ]
    return "\n".join(lines) + "\n"


def render_neuron(folded: FoldedLayer, name: str) -> str:
    """``name``: one output neuron's ``P``-bit accumulator register, its lane adders and requantizer.

    ``acc <= (first ? bias : acc) + sum_l products[l]`` while ``busy`` (all ``P`` bits, wrapping);
    ``q`` is the ReLU'd, rounded, saturated output of ``acc`` (:func:`_requantize`). The bias (on
    the accumulator grid) is a port tied to a constant by the layer: one module per layer, which
    Yosys synthesizes once (``keep_hierarchy``) and counts once per neuron. A constant bias would
    save nothing: each accumulator bit takes one LUT for ``first``, bias, ``acc`` and ``sum`` either way.
    """
    p_bits, lanes = folded.accumulator_bits, folded.lanes
    x_ext = folded.input_format.bits + (0 if folded.input_format.signed else 1)
    product_bits = x_ext + folded.weight_bits
    terms = [_extend(f"pr{lane}", product_bits, p_bits) for lane in range(lanes)]
    lines = [
        "(* keep_hierarchy *)",
        f"module {name} (",
        "    input wire clk,",
        "    input wire busy,",
        "    input wire first,",
        f"    input wire [{p_bits - 1}:0] bias,",
        f"    input wire [{lanes * product_bits - 1}:0] products,",
        f"    output wire [{folded.output_format.bits - 1}:0] q",
        ");",
    ]
    for lane in range(lanes):
        lines.append(
            f"    wire [{product_bits - 1}:0] pr{lane} = products[{lane * product_bits} +: {product_bits}];"
        )
    lines.append(f"    reg signed [{p_bits - 1}:0] acc;")
    lines.append(f"    wire [{p_bits - 1}:0] sum = " + " + ".join(terms) + ";")
    lines.append("    always @(posedge clk) if (busy) acc <= (first ? bias : acc) + sum;")
    lines += _requantize(folded, "acc", "q")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def render_layer(folded: FoldedLayer, name: str, rom_style: str = ROM_STYLE) -> str:
    """One layer module (see the module docstring) with its multiplier and neuron modules
    (``<name>_mul``, ``<name>_neuron``) first; ``rom_style`` as in :func:`_rom`."""
    n_in, n_out, cycles, lanes = folded.fan_in, folded.fan_out, folded.cycles, folded.lanes
    in_fmt, out_fmt = folded.input_format, folded.output_format
    x_bits, w_bits, p_bits = in_fmt.bits, folded.weight_bits, folded.accumulator_bits
    x_ext = x_bits + (0 if in_fmt.signed else 1)  # inputs as signed operands
    product_bits = x_ext + w_bits
    count_bits = max(1, (cycles - 1).bit_length())
    weights = np.zeros((lanes * cycles, n_out), dtype=np.int64)
    weights[:n_in] = np.asarray(folded.layer.weight_raw, dtype=np.int64)
    bias = folded.bias_on_accumulator_grid()
    lines = [
        f"module {name} (",
        "    input wire clk,",
        "    input wire rst,",
        "    input wire in_valid,",
        "    output wire in_ready,",
        f"    input wire [{n_in * x_bits - 1}:0] in_data,",
        "    output reg out_valid,",
        "    input wire out_ready,",
        f"    output reg [{n_out * out_fmt.bits - 1}:0] out_data",
        ");",
        f"    // fan-in {n_in}, fan-out {n_out}: {cycles} MAC cycles x {lanes} lane(s) per neuron;",
        f"    // inputs {x_bits} bits ({'signed' if in_fmt.signed else 'unsigned'}), weights {w_bits} bits,"
        f" accumulators {p_bits} bits (wrap-around)",
        "    reg busy, finish;",
        f"    reg [{count_bits - 1}:0] count;",
        "    assign in_ready = !busy && !finish && !out_valid;",
        "    wire load = in_valid && in_ready;",
        f"    wire first = count == {count_bits}'d0;",
        f"    wire [{count_bits - 1}:0] rom_address = (busy && count != {_literal(cycles - 1, count_bits)})"
        f" ? count + 1'b1 : {count_bits}'d0;",
    ]
    for lane in range(lanes):
        lines.append(f"    reg [{x_bits - 1}:0] x{lane} [0:{cycles - 1}];")
        lines += _rom(f"rom{lane}", weights[lane * cycles : (lane + 1) * cycles], w_bits, rom_style)
        operand = f"x{lane}[0]" if in_fmt.signed else f"{{1'b0, x{lane}[0]}}"
        lines.append(f"    wire signed [{x_ext - 1}:0] xs{lane} = {operand};")
    for neuron in range(n_out):
        products = []
        for lane in range(lanes):
            product = f"p{neuron}_{lane}"
            products.append(product)
            lines.append(f"    wire [{product_bits - 1}:0] {product};")
            lines.append(
                f"    {name}_mul mul{neuron}_{lane} (.x(xs{lane}),"
                f" .w(rom{lane}[{neuron * w_bits} +: {w_bits}]), .p({product}));"
            )
        lines.append(f"    wire [{out_fmt.bits - 1}:0] q{neuron};")
        lines.append(
            f"    {name}_neuron neuron{neuron} (.clk(clk), .busy(busy), .first(first),"
            f" .bias({_literal(int(bias[neuron]), p_bits)}), .products({{{', '.join(reversed(products))}}}),"
            f" .q(q{neuron}));"
        )
    lines.append("    always @(posedge clk) begin")
    lines.append("        if (rst) begin")
    lines.append("            busy <= 1'b0; finish <= 1'b0; out_valid <= 1'b0; count <= 0;")
    lines.append("        end else begin")
    lines.append("            if (out_valid && out_ready) out_valid <= 1'b0;")
    lines.append("            finish <= 1'b0;")
    lines.append("            if (load) begin")
    lines.append("                busy <= 1'b1; count <= 0;")
    lines.append("            end else if (busy) begin")
    lines.append("                count <= count + 1'b1;")
    last = _literal(cycles - 1, count_bits)
    lines.append(f"                if (count == {last}) begin busy <= 1'b0; finish <= 1'b1; end")
    lines.append("            end")
    lines.append("            if (finish) out_valid <= 1'b1;")
    lines.append("        end")
    lines.append("    end")
    lines.append("    always @(posedge clk) begin")
    lines.append("        if (load) begin")
    for lane in range(lanes):
        for step in range(cycles):
            index = lane * cycles + step
            source = f"in_data[{index * x_bits} +: {x_bits}]" if index < n_in else f"{x_bits}'h0"
            lines.append(f"            x{lane}[{step}] <= {source};")
    lines.append("        end else if (busy) begin")
    for lane in range(lanes):
        for step in range(cycles - 1):
            lines.append(f"            x{lane}[{step}] <= x{lane}[{step + 1}];")
    lines.append("        end")
    outputs = ", ".join(f"q{j}" for j in reversed(range(n_out)))
    lines.append(f"        if (finish) out_data <= {{{outputs}}};")
    lines.append("    end")
    lines.append("endmodule")
    return (
        render_multiplier(f"{name}_mul", x_ext, w_bits)
        + render_neuron(folded, f"{name}_neuron")
        + "\n".join(lines)
        + "\n"
    )


def render_network(plan: FoldedPlan, top: str, rom_style: str = ROM_STYLE) -> str:
    """The whole model: one module per layer and the top chaining them with valid/ready."""
    chunks = [
        f"// Generated by pipeline.rtl.folded: reuse factor {plan.reuse_factor}, latency"
        f" {plan.latency_cycles} cycles.\n`timescale 1ns/1ps\n"
    ]
    for index, folded in enumerate(plan.layers):
        chunks.append(render_layer(folded, f"{top}_layer{index + 1}", rom_style))
    first, last = plan.layers[0], plan.layers[-1]
    lines = [
        f"module {top} (",
        "    input wire clk,",
        "    input wire rst,",
        "    input wire in_valid,",
        "    output wire in_ready,",
        f"    input wire [{first.fan_in * first.input_format.bits - 1}:0] in_data,",
        "    output wire out_valid,",
        "    input wire out_ready,",
        f"    output wire [{last.fan_out * last.output_format.bits - 1}:0] out_data",
        ");",
    ]
    previous = ("in_valid", "in_ready", "in_data")
    for index, folded in enumerate(plan.layers):
        number = index + 1
        width = folded.fan_out * folded.output_format.bits
        is_last = number == len(plan.layers)
        valid, ready, data = (
            ("out_valid", "out_ready", "out_data")
            if is_last
            else (
                f"v{number}",
                f"r{number}",
                f"d{number}",
            )
        )
        if not is_last:
            lines += [f"    wire {valid}, {ready};", f"    wire [{width - 1}:0] {data};"]
        lines.append(
            f"    {top}_layer{number} layer{number} (.clk(clk), .rst(rst), .in_valid({previous[0]}),"
            f" .in_ready({previous[1]}), .in_data({previous[2]}), .out_valid({valid}),"
            f" .out_ready({ready}), .out_data({data}));"
        )
        previous = (valid, ready, data)
    lines.append("endmodule")
    chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)
