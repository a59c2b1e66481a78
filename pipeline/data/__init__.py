"""Jet data: generation (Pythia 8 + FastJet), substructure features, loaders, validation and I/O."""
