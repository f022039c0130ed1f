"""NVIDIA DALI loading of the in-memory windows, used only where `nvidia.dali` is usable (CUDA)."""

from __future__ import annotations

import numpy as np


def dali_loader(x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool, seed: int = 0):
    """An iterator of (context, target) CUDA tensors fed from numpy by DALI's external source."""
    from nvidia.dali import fn, pipeline_def
    from nvidia.dali.plugin.pytorch import DALIGenericIterator, LastBatchPolicy

    n = len(x)

    def source(info):
        order = np.random.default_rng(seed + info.epoch_idx).permutation(n) if shuffle else np.arange(n)
        start = info.iteration * batch_size
        if start >= n:
            raise StopIteration
        idx = order[start : start + batch_size]
        return x[idx], y[idx]

    @pipeline_def(batch_size=batch_size, num_threads=2, device_id=0, seed=seed)
    def pipe():
        ctx, tgt = fn.external_source(source=source, num_outputs=2, batch=True, parallel=False)
        return ctx.gpu(), tgt.gpu()

    pipeline = pipe()
    pipeline.build()
    iterator = DALIGenericIterator(
        pipeline, ["context", "target"], last_batch_policy=LastBatchPolicy.PARTIAL, auto_reset=True
    )
    return DaliBatches(iterator, batches=-(-n // batch_size))


class DaliBatches:
    """DALI's iterator as a loader Lightning can use every epoch: each pass over it is one epoch
    (the iterator resets itself at the end), yielding (context, target)."""

    def __init__(self, iterator, *, batches: int):
        self.iterator, self.batches = iterator, batches

    def __iter__(self):
        for batch in self.iterator:
            yield batch[0]["context"], batch[0]["target"]

    def __len__(self) -> int:
        return self.batches
