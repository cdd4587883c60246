"""Running batch items on Ray: one actor per CPU, each holding one built pipeline; the journal stays on the
driver. Outputs are written by the actors straight into OUT, so OUT (and every input) must be at the same path
on every node: a shared file system such as NFS, Lustre or a mounted bucket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from score_cli.batch.workers import LOST_WORKER, ItemOutcome, ItemTask, build_pipeline, score_item
from score_core.errors import ScoreError
from score_core.pipeline import StageChoice

INSTALL_HINT = "Ray is not installed; pip install 'score-cli[ray]'"


class _Scorer:
    """The body of a Ray actor: the pipeline is built (models loaded) once, then scores item after item."""

    def __init__(self, choice: StageChoice) -> None:
        self.error: str | None = None
        try:
            self.pipeline = build_pipeline(choice, threads=1)
        except ScoreError as error:
            self.error = str(error)
        except Exception as error:
            self.error = f"internal error while loading the models: {error!r}"

    def score(self, task: ItemTask) -> ItemOutcome:
        if self.error is not None:
            return ItemOutcome(task.id, error=self.error, fatal=True)
        return score_item(self.pipeline, task)


def connect(address: str, workers: int | None) -> tuple[Any, bool]:
    """The ray module, connected: an already initialised Ray; `auto` = a running cluster, else a local one
    with ``workers`` CPUs; any other value = that cluster's address. Also says whether we started it."""
    try:
        import ray
    except ImportError:
        raise ScoreError("--ray", INSTALL_HINT) from None
    if ray.is_initialized():
        return ray, False
    try:
        if address == "auto":
            try:
                ray.init(address="auto", log_to_driver=False)
            except ConnectionError:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise ScoreError(f"--ray {address}", f"cannot connect to the Ray cluster ({error})") from None
    return ray, True


def run_on_ray(
    tasks: Iterator[ItemTask], choice: StageChoice, address: str, workers: int | None,
    on_start: Callable[[ItemTask], None], on_lost: Callable[[ItemTask], bool],
) -> Iterator[ItemOutcome]:
    """Score ``tasks`` on Ray actors, one item in flight per actor (`ray.wait` back-pressure); an actor lost with
    its node is replaced and, while ``on_lost`` allows, its item tried again."""
    ray, started = connect(address, workers)
    try:
        actor_class = ray.remote(num_cpus=1, max_restarts=0)(_Scorer)
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        idle = [actor_class.remote(choice) for _ in range(count)]
        in_flight: dict[Any, tuple[Any, ItemTask]] = {}
        retry: list[ItemTask] = []
        while True:
            while idle:
                task = retry.pop(0) if retry else next(tasks, None)
                if task is None:
                    break
                actor = idle.pop()
                on_start(task)
                in_flight[actor.score.remote(task)] = (actor, task)
            if not in_flight:
                return
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            actor, task = in_flight.pop(ready[0])
            try:
                outcome = ray.get(ready[0])
            except ray.exceptions.RayActorError:
                ray.kill(actor, no_restart=True)
                idle.append(actor_class.remote(choice))
                if on_lost(task):
                    retry.append(task)
                continue
            except ray.exceptions.RayError as error:
                idle.append(actor)
                yield ItemOutcome(task.id, error=f"{LOST_WORKER}: {type(error).__name__}")
                continue
            idle.append(actor)
            yield outcome
    finally:
        if started:
            ray.shutdown()
