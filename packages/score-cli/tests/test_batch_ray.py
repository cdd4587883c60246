"""`score batch --ray` on a local Ray instance gives the same items, states and MIDI as local worker processes."""

from __future__ import annotations

import json

import pytest

from score_cli.app import main
from score_core.media.synthetic import write_test_video

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'score-cli[ray]'")

LIGHT = ["--vision", "color-stats", "--music", "arpeggio", "--no-audio", "--json"]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_batch_equals_the_local_process_batch(tmp_path, capsys, local_ray):
    source = tmp_path / "archive"
    source.mkdir()
    for index in range(3):
        write_test_video(source / f"clip{index}.mp4", duration=5.0 + index, cuts=(2.5,))
    (source / "broken.mp4").write_text("no video here")
    manifest = tmp_path / "items.jsonl"
    manifest.write_text("".join(json.dumps({"path": f"archive/{p.name}", "seed": i}) + "\n"
                                for i, p in enumerate(sorted(source.iterdir()))))

    results = {}
    for name, extra in (("local", ["--workers", "2"]), ("ray", ["--ray", "auto", "--workers", "2"])):
        code = main(["batch", str(manifest), "-o", str(tmp_path / name), *LIGHT, *extra])
        rows = json.loads(capsys.readouterr().out)
        results[name] = (code, {row["item"]: (row["status"], row["error"]) for row in rows})

    assert results["ray"] == results["local"]
    assert results["local"][0] == 1 and results["local"][1]["broken"][0] == "failed"
    for index in range(3):
        midi = f"clip{index}/clip{index}.mid"
        assert (tmp_path / "ray" / midi).read_bytes() == (tmp_path / "local" / midi).read_bytes()
    assert ray.is_initialized()  # the batch leaves a Ray it did not start running
