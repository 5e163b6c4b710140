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

Models trained by chapter 10 are saved as
``build/cache/models/<profile>/{bilstm,gru}.keras`` (+ a ``.json`` sidecar) and
loaded with ``course_utils.sequence.models.load_model(name, profile, histories)``.

Example
-------
>>> from course_utils.sequence.cells import LSTMWeights, lstm_forward
>>> import numpy as np
>>> w = LSTMWeights.init(input_dim=2, units=3, rng=np.random.default_rng(0))
>>> lstm_forward(np.zeros((1, 4, 2)), w)[0].shape
(1, 4, 3)
"""
