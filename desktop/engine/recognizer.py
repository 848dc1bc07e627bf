"""Batched face embedding with any ONNX recognizer whose input is an aligned face chip.

Faces from many images share one batch. One exception, measured: recognizers quantised with
*dynamic* int8 quantisation (DynamicQuantizeLinear) compute one activation scale over the
whole batch, so a face's embedding would depend on which other faces share its batch
(cosine down to 0.98 against the same face alone). For those, batches hold one face, so a
face always gets the same embedding.
"""

from __future__ import annotations

import cv2
import numpy as np

from desktop.engine.manifest import RecognizerSpec
from desktop.engine.onnx_inspect import inspect_onnx
from desktop.engine.providers import make_session


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class OnnxRecognizer:
    def __init__(self, model_path: str, spec: RecognizerSpec, providers: list[str],
                 threads: int = 0, max_batch: int = 32) -> None:
        self._session = make_session(model_path, providers, threads)
        self._input = self._session.get_inputs()[0].name
        self.providers = self._session.get_providers()
        self.spec = spec
        batch_invariant = not inspect_onnx(model_path).dynamic_quantization
        self.max_batch = max_batch if batch_invariant else 1

    def raw(self, chips: np.ndarray) -> np.ndarray:
        """The network's own output for (N, H, W, 3) BGR uint8 chips, before normalisation."""
        if len(chips) == 0:
            return np.zeros((0, self.spec.embedding_dim), dtype=np.float32)
        width, height = self.spec.input_size
        outputs = []
        for start in range(0, len(chips), self.max_batch):
            batch = list(chips[start:start + self.max_batch])
            blob = cv2.dnn.blobFromImages(batch, 1.0 / self.spec.std, (width, height),
                                          (self.spec.mean,) * 3,
                                          swapRB=self.spec.color == "RGB")
            outputs.append(self._session.run(None, {self._input: blob})[0])
        return np.concatenate(outputs).astype(np.float32)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """L2-normalised float32 embeddings, one row per chip."""
        return l2_normalise(self.raw(chips))
