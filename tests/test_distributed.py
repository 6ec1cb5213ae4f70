"""gnnedu.distributed: N processes (gloo, CPU) train the same parameters as one process."""

import os

import datafind
import pytest
import torch
import torch.multiprocessing as mp

from gnnedu import distributed
from gnnedu.distributed import Shard, launch, process_group, slice_bounds
from gnnedu.graph import build_graph
from gnnedu.models import LightGCN, make_model
from gnnedu.train import TrainConfig, train_bpr

# 41 users x 30 items; 11 interactions per user = 451, so batches of 64 end with one of 3 rows
# (with 2 processes, slices of 2 and 1) and batches of 225 with one of 1 row (an empty slice).
SETTINGS = [dict(batch_size=64, num_neg=2), dict(batch_size=225, neg_candidates=4)]


def small_graph():
    gen = torch.Generator().manual_seed(1)
    users = torch.arange(41).repeat_interleave(11)
    items = torch.stack([torch.randperm(30, generator=gen)[:11] for _ in range(41)]).reshape(-1)
    return build_graph((users, items), 41, 30)


def config(**settings):
    return TrainConfig(epochs=2, lr=0.05, reg=1e-3, seed=3, **settings)


def test_slices_cover_every_batch_once():
    for batch in (1, 2, 7, 64, 1000):
        for world in (1, 2, 3, 8):
            bounds = [slice_bounds(batch, world, r) for r in range(world)]
            assert bounds[0][0] == 0 and bounds[-1][1] == batch
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
            sizes = [hi - lo for lo, hi in bounds]
            assert max(sizes) - min(sizes) <= 1


def test_one_process_shard_changes_nothing(deterministic):
    graph = small_graph()
    alone = LightGCN(dim=8, num_layers=2)
    train_bpr(alone, graph, config=config(**SETTINGS[0]))
    sharded = LightGCN(dim=8, num_layers=2)
    train_bpr(sharded, graph, config=config(**SETTINGS[0]), shard=Shard(0, 1))
    assert torch.equal(alone.embedding, sharded.embedding)
    with pytest.raises(ValueError, match="rank"):
        Shard(2, 2)


def _worker(rank, world, init_file, out, settings):
    torch.set_num_threads(1)
    with process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world):
        model = LightGCN(dim=8, num_layers=2)
        history = train_bpr(model, small_graph(), config=config(**settings),
                            shard=Shard(rank, world))
        if rank == 0:
            torch.save({"embedding": model.embedding.detach(), "loss": history.loss}, out)


@pytest.mark.parametrize("settings", SETTINGS, ids=["uneven-slices", "empty-slice-hard-negatives"])
def test_two_gloo_processes_match_one_process(tmp_path, settings):
    """Same seed, same global batches: 2 processes end an epoch (here two) with the parameters
    of one process, up to the order of floating-point sums."""
    out = tmp_path / "rank0.pt"
    mp.start_processes(_worker, args=(2, str(tmp_path / "init"), str(out), settings), nprocs=2,
                       join=True, start_method="spawn")
    two = torch.load(out)
    one = LightGCN(dim=8, num_layers=2)
    train_bpr(one, small_graph(), config=config(**settings))
    torch.testing.assert_close(two["embedding"], one.embedding.detach(), rtol=0, atol=1e-5)
    assert not torch.equal(one.embedding.detach(), LightGCN(dim=8, num_layers=2).fit(
        small_graph(), epochs=0, seed=3).embedding.detach())   # training moved the parameters


@datafind.needs_movielens
def test_torchrun_command_matches_one_process_to_three_decimals(tmp_path):
    args = ["--dataset", "ml-100k", "--epochs", "1", "--batch-size", "8192", "--lr", "0.02"]
    if os.environ.get("GNNEDU_DATA"):
        args += ["--data", os.environ["GNNEDU_DATA"]]
    two = launch(2, args + ["--out", str(tmp_path / "two.json")], timeout=600)
    one = launch(1, args, timeout=600)
    assert (two["world_size"], one["world_size"], two["backend"]) == (2, 1, "gloo")
    assert two["interactions"] == 80_000
    for metric in ("recall@20", "ndcg@20"):
        assert round(two[metric], 3) == round(one[metric], 3)
    assert (tmp_path / "two.json").exists()


def test_command_line_misuse_exits_2(capsys):
    assert distributed.main(["--subsample", "0"]) == 2
    assert "subsample" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert distributed.main(["--device", "cuda"]) == 2
        assert "no GPU" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        distributed.main(["--dataset", "movielens-1m"])
    assert exc.value.code == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_training_on_a_gpu_matches_the_cpu():
    graph = small_graph()
    cpu = make_model("lightgcn", dim=8, num_layers=2).fit(graph, config=config(**SETTINGS[0]))
    gpu = make_model("lightgcn", dim=8, num_layers=2).fit(
        graph, config=config(**SETTINGS[0], device="cuda"))
    assert gpu.embedding.device.type == "cpu"        # handed back on the CPU
    torch.testing.assert_close(gpu.embedding, cpu.embedding, rtol=0, atol=1e-4)
