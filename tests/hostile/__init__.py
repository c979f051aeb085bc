"""Hostile uploads: files built to hurt the reader, and the proof that they do not."""
