"""Sequence recommenders: recurrent cells in NumPy and Keras next-item models.

``cells``
    RNN, LSTM and GRU forward passes in NumPy (Keras's weight layout, masks),
    and the Jacobian product of backpropagation through time (chapter 09).
``pipeline``
    Leave-last-out frames, per-user histories, last windows, window sampling
    and ``tf.data`` batches.
``models``
    Composable Keras builders (``sequence_input``, ``recurrent_encoder``,
    ``next_item_head``), the thesis's bidirectional LSTM and a GRU, and
    :class:`~course_utils.sequence.models.NextItemModel` with ``fit`` /
    ``recommend`` / ``save`` / ``load`` (chapter 10). Importing it imports
    TensorFlow; the other two modules do not.

Chapter 10 fits its models through :func:`course_utils.cache.load_or_fit`,
which keys each saved model by its training rows and parameters; chapters 11
and 12 get them back with the same call (see
:func:`~course_utils.sequence.models.chapter_models`).

Example
-------
>>> from course_utils.sequence.cells import LSTMWeights, lstm_forward
>>> import numpy as np
>>> w = LSTMWeights.init(input_dim=2, units=3, rng=np.random.default_rng(0))
>>> lstm_forward(np.zeros((1, 4, 2)), w)[0].shape
(1, 4, 3)
"""
