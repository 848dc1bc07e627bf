"""The scan's analysis on a Ray cluster, with Ray Data's batch-inference idiom: work items go
out as rows, files are read and decoded by CPU tasks on the nodes, and a pool of actors that
each hold the pack's ONNX sessions (one per GPU; one per CPU where the cluster has no GPU, and
then Ray fuses the decoding into them) detects and embeds a batch of images at a time.
Outcomes stream back to the examiner's process, which writes the case as for a local scan.

Pause and cancel reach the nodes through a small gate actor that every read consults before
it starts a file: paused, no new file is started and work in flight comes back; cancelled,
what is still queued is dropped. A lost worker is Ray's to retry (its actors restart, its
tasks run again); a lost examiner's process is resumed like a local scan.
"""

from __future__ import annotations

import dataclasses
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from desktop.cluster.nodes import NodeFacts, require_ready
from desktop.cluster.runtime import ClusterError
from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.pack_store import InstalledPack, require_intact, resolve_pack
from desktop.errors import ModelPackError
from desktop.scan.analyze import Analyser
from desktop.scan.content import ContentOutcome, ContentTask, DecodedContent, FileRef, Fingerprint
from desktop.scan.content import fingerprint as fingerprint_file
from desktop.scan.job import ScanJob
from desktop.scan.pipeline import IMAGES_PER_BATCH, finish_undecoded, infer_group, prepare
from desktop.scan.start import ScanRequest, planned_pack, planned_sources
from desktop.scan.workers import use_engine

RUN, HOLD, STOP = "run", "hold", "stop"
GATE_POLL_S = 0.2
DROPPED = b""  # a row whose work was dropped by a cancel
FILES_PER_HASH_TASK = 32


class Gate:
    """The scan's pause and cancel, as one Ray actor every node asks."""

    def __init__(self) -> None:
        self.state = RUN

    def set(self, state: str) -> None:
        self.state = state

    def get(self) -> str:
        return self.state


def _may_start(gate) -> bool:
    """Wait while paused; False once cancelled. Runs on the nodes, before each file."""
    import ray

    while (state := ray.get(gate.get.remote())) == HOLD:
        time.sleep(GATE_POLL_S)
    return state == RUN


def _fingerprint_batch(batch: dict[str, np.ndarray], gate) -> dict[str, np.ndarray]:
    """Hashes of a batch of files (one Ray task for many small files)."""
    return {"item": np.array([pickle.dumps(fingerprint_file(pickle.loads(raw)))
                              if _may_start(gate) else DROPPED for raw in batch["item"]],
                             dtype=object)}


def _prepare_row(row: dict, gate) -> dict:
    if not _may_start(gate):
        return {"item": DROPPED}
    return {"item": pickle.dumps(prepare(pickle.loads(row["item"])))}


class EngineActor:
    """One engine on one node (one GPU, or one CPU): the pack loaded from the node's own
    installation and checked against the examiner's model hashes before it embeds anything."""

    def __init__(self, pack_id: str, model_hashes: dict[str, str], options: EngineOptions) -> None:
        pack = resolve_pack(pack_id)
        if dict(pack.manifest.model_hashes) != dict(model_hashes):
            raise ModelPackError(f"This node's pack {pack_id} has other model files than the "
                                 "examiner's machine.")
        require_intact(pack)
        self.engine = FaceEngine(pack, options)
        use_engine(self.engine)  # videos are analysed with it, frames batched as sampled

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = [pickle.loads(raw) if raw != DROPPED else None for raw in batch["item"]]
        decoded = [item for item in items if isinstance(item, DecodedContent)]
        images = iter(infer_group(self.engine, decoded))
        outcomes = [DROPPED if item is None else pickle.dumps(
            next(images) if isinstance(item, DecodedContent) else finish_undecoded(item))
            for item in items]
        return {"item": np.array(outcomes, dtype=object)}


class RayAnalysis(Analyser):
    """`Analysis`'s interface on a cluster (see the module's docstring)."""

    def __init__(self, ray, pack: InstalledPack, options: EngineOptions,
                 held: Callable[[], bool], stop: Callable[[], bool],
                 batch: int = IMAGES_PER_BATCH) -> None:
        self.ray, self.pack, self.options = ray, pack, options
        self.held, self.stop, self.batch = held, stop, batch
        self._watching = threading.Event()

    def __enter__(self) -> RayAnalysis:
        self.gate = self.ray.remote(num_cpus=0)(Gate).remote()
        self._watching.set()
        self._watcher = threading.Thread(target=self._watch, name="ray-gate", daemon=True)
        self._watcher.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._watching.clear()
        self._watcher.join()
        self.ray.kill(self.gate)

    def _watch(self) -> None:
        """Mirror the scan's pause and cancel into the gate."""
        state = RUN
        while self._watching.is_set():
            now = STOP if self.stop() else HOLD if self.held() else RUN
            if now != state:
                self.gate.set.remote(now)
                state = now
            time.sleep(GATE_POLL_S / 2)

    def _rows(self, items: Iterable) -> object | None:
        rows = [{"item": pickle.dumps(item)} for item in items]
        return self.ray.data.from_items(rows) if rows else None

    def _results(self, dataset) -> Iterator:
        for row in dataset.iter_rows():
            if row["item"] != DROPPED:
                yield pickle.loads(row["item"])

    def fingerprint(self, refs: Iterable[FileRef]) -> Iterator[Fingerprint]:
        dataset = self._rows(refs)
        if dataset is None:
            return iter(())
        return self._results(dataset.map_batches(
            _fingerprint_batch, batch_size=FILES_PER_HASH_TASK, batch_format="numpy",
            fn_kwargs={"gate": self.gate}, num_cpus=1))

    def analyse(self, tasks: Iterable[ContentTask]) -> Iterator[ContentOutcome]:
        dataset = self._rows(dataclasses.replace(task, carry_derived=True) for task in tasks)
        if dataset is None:
            return iter(())
        gpus = int(self.ray.cluster_resources().get("GPU", 0))
        engines = gpus or max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        resources = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        return self._results(
            dataset.map(_prepare_row, fn_kwargs={"gate": self.gate}, num_cpus=1)
            .map_batches(EngineActor, batch_size=self.batch, batch_format="numpy",
                         compute=self.ray.data.ActorPoolStrategy(size=engines),
                         fn_constructor_kwargs={"pack_id": self.pack.id,
                                                "model_hashes": dict(
                                                    self.pack.manifest.model_hashes),
                                                "options": self.options},
                         **resources))


@dataclass(frozen=True)
class ClusterPlan:
    """A cluster checked fit for one scan request, before the case is created or changed."""

    ray: object
    address: str
    pack: InstalledPack
    nodes: list[NodeFacts]
    images_per_batch: int = IMAGES_PER_BATCH  # per engine call; also what a pause lets finish

    def apply(self, job: ScanJob) -> None:
        """Make `job` analyse on the cluster."""
        if job.pack.id != self.pack.id:
            raise ClusterError(f"The scan uses the pack {job.pack.id}, the cluster was checked "
                               f"for {self.pack.id}.")
        # CPU engines each take one core, as the local engine workers do.
        gpus = sum(node.gpus for node in self.nodes)
        options = job.options if gpus else dataclasses.replace(job.options, threads=1)
        job.service = lambda held, stop: RayAnalysis(self.ray, job.pack, options, held, stop,
                                                     self.images_per_batch)
        job.analysed_on = {"machine": "Ray cluster", "address": self.address,
                           "nodes": [{"address": node.address, "cpus": node.cpus,
                                      "gpus": node.gpus} for node in self.nodes]}


def plan_cluster(ray, address: str, request: ScanRequest) -> ClusterPlan:
    """Every node checked for this request's pack and sources (a refusal names each problem
    and leaves everything as it was)."""
    pack = planned_pack(request)
    nodes = require_ready(ray, pack.id, dict(pack.manifest.model_hashes),
                          planned_sources(request))
    return ClusterPlan(ray, address, pack, nodes)
