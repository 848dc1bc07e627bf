"""Face engine: model packs, ONNX Runtime sessions, detection, alignment, embedding, quality.

Knows nothing about SQLite, Qt, or files beyond model files and the images handed to it.
"""
