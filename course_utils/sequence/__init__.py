"""Sequence recommenders: recurrent cells in NumPy, Keras next-item models."""
