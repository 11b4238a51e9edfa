"""Distributed data-parallel training of a small PyTorch network, as a pmle training job.

    pmle jobs run examples/ddp_train.py --data churn -- --workers 2 --epochs 3

`--workers` processes (torch.multiprocessing) each train a replica on their shard of the rows
(DistributedSampler) and average gradients every step (DistributedDataParallel): the gloo
backend on CPUs, NCCL with one GPU per worker where CUDA has enough GPUs. Rank 0 logs the
loss of each epoch to the job's run (`pmle.job_run()`), checks that every replica ended with
the same weights, and saves the network (TorchScript) and a summary in AIP_MODEL_DIR.

The data is the dataset the job was given (`--data`, AIP_TRAINING_DATA_URI): its numeric
columns standardised, predicting the column `--label` (default `churn`, "Yes" = 1); without
data, a generated regression problem.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_data(label: str):
    import numpy as np
    import torch

    path = os.environ.get("AIP_TRAINING_DATA_URI")
    if path:
        import pandas as pd

        frame = pd.read_parquet(path)
        y = (frame[label] == "Yes").to_numpy(dtype="float32")
        x = frame.drop(columns=[label]).select_dtypes("number").fillna(0.0)
        x = ((x - x.mean()) / x.std(ddof=0).replace(0, 1)).to_numpy(dtype="float32")
    else:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(4096, 8)).astype("float32")
        y = (x @ rng.normal(size=8) > 0).astype("float32")
    return torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))


def worker(rank: int, world: int, args: argparse.Namespace, port: int) -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler

    cuda = torch.cuda.is_available() and torch.cuda.device_count() >= world
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    torch.manual_seed(0)  # the same initial weights on every replica
    torch.set_num_threads(1)
    device = torch.device(f"cuda:{rank}") if cuda else torch.device("cpu")
    data = load_data(args.label)
    width = data.tensors[0].shape[1]
    net = torch.nn.Sequential(
        torch.nn.Linear(width, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
    ).to(device)
    model = DistributedDataParallel(net, device_ids=[rank] if cuda else None)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    run = None
    if rank == 0 and os.environ.get("PMLE_RUN_ID"):
        import pmle

        run = pmle.job_run()
        run.log_params({"workers": world, "backend": "nccl" if cuda else "gloo",
                        "epochs": args.epochs, "lr": args.lr})  # fmt: skip
    losses = []
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        total = torch.zeros(2, device=device)
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(x).squeeze(1), y)
            loss.backward()  # DDP averages the gradients of every replica here
            optimizer.step()
            total += torch.stack([loss.detach() * len(y), torch.tensor(len(y), device=device)])
        dist.all_reduce(total)  # the epoch's mean loss over every replica's rows
        losses.append(float(total[0] / total[1]))
        if run is not None:
            run.log_metric("train_loss", losses[-1], step=epoch)
    # every replica must hold the same weights: compare a checksum across ranks
    checksum = torch.stack([p.detach().double().sum() for p in net.parameters()]).sum()
    gathered = [torch.zeros_like(checksum) for _ in range(world)]
    dist.all_gather(gathered, checksum)
    if rank == 0:
        same = all(torch.allclose(g, gathered[0]) for g in gathered)
        out = Path(os.environ.get("AIP_MODEL_DIR", "ddp-model"))
        out.mkdir(parents=True, exist_ok=True)
        torch.jit.script(net.cpu()).save(str(out / "model.pt"))
        summary = {
            "workers": world,
            "backend": "nccl" if cuda else "gloo",
            "device": torch.cuda.get_device_name(rank) if cuda else "cpu",
            "losses": losses,
            "replicas_in_sync": same,
        }
        (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        print("DDP", json.dumps(summary), flush=True)
        if run is not None:
            run.set_tag("replicas_in_sync", same)
            run.end()
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--label", default="churn")
    args = parser.parse_args()
    import torch.multiprocessing as mp

    mp.spawn(worker, args=(args.workers, args, _free_port()), nprocs=args.workers, join=True)


if __name__ == "__main__":
    main()
