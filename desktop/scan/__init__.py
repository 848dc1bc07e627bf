"""Scanning: walking sources and running the face engine over them in parallel workers."""
