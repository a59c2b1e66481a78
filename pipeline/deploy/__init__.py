"""The deployed network: integer view, emulator, QONNX export, hls4ml conversion."""
