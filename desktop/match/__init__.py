"""Matching probe faces against gallery embeddings of the same pack."""
