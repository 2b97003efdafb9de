"""The figures the book's performance page quotes, derived from a results dict.

Each function returns a flat mapping from a short name to a number, ready to be glued into the
page under ``perf_<name>``.
"""

from __future__ import annotations

import math

from lib.mnist.data import IMAGE_PIXELS, NUM_CLASSES


def epoch_figures(results: dict) -> dict[str, float]:
    """Epoch times, ratios, and where the project's epoch spends its time.

    ``batch_other_ms`` is what a minibatch costs beyond its matrix products (``batch_matmuls_ms``);
    ``speedup_epoch`` and ``speedup_batch_ms`` the epoch and minibatch times the speed-up target
    asks for; ``budget_ms`` what the limit target leaves for the rest (zero when the products alone exceed the target);
    ``adam_epoch`` projects the epoch with Adam's measured step in place of SGD's, and
    ``adam_speedup`` the speed-up over the base-code loop when both use Adam.
    """
    epoch, steps = results["mnist_epoch"], _steps(results)
    s, targets = epoch["seconds"], epoch["targets"]
    n_batches = math.ceil(epoch["train_size"] / epoch["batch_size"])
    budget = max(targets["ratio_to_limit"] * s["limit"] - s["matmuls"], 0.0) / n_batches
    adam_epoch = s["project"] + n_batches * (steps["Adam"]["ours"] - steps["SGD"]["ours"])
    return {
        "train_size": epoch["train_size"], "batch_size": epoch["batch_size"],
        "hidden": epoch["hidden_dim"], "pixels": IMAGE_PIXELS, "classes": NUM_CLASSES,
        "matmul_size": epoch["matmul_size"], "n_batches": n_batches,
        "epoch_gflop": epoch["flops_per_epoch"] / 1e9,
        "epoch_project": s["project"], "epoch_dataloader": s["dataloader"],
        "speedup": epoch["speedup_vs_dataloader"],
        "speedup_target": targets["speedup_vs_dataloader"],
        "peak_gflops": epoch["matmul_gflops"], "limit": s["limit"],
        "ratio_limit": epoch["ratio_to_limit"], "ratio_limit_target": targets["ratio_to_limit"],
        "matmuls": s["matmuls"], "matmuls_over_limit": s["matmuls"] / s["limit"],
        "shape_gflops": epoch["matmul_gflops_at_model_shapes"],
        "ratio_matmuls": epoch["ratio_to_matmuls"],
        "batch_other_ms": (s["project"] - s["matmuls"]) / n_batches * 1e3,
        "batch_matmuls_ms": s["matmuls"] / n_batches * 1e3,
        "speedup_epoch": s["dataloader"] / targets["speedup_vs_dataloader"],
        "speedup_batch_ms": s["dataloader"] / targets["speedup_vs_dataloader"] / n_batches * 1e3,
        "budget_ms": budget * 1e3,
        "sgd_step_ms": steps["SGD"]["ours"] * 1e3,
        "sgd_share": 100 * n_batches * steps["SGD"]["ours"] / s["project"],
        "adam_step_us": steps["Adam"]["ours"] * 1e6,
        "adam_epoch": adam_epoch,
        "adam_speedup": (s["dataloader"] - s["project"] + adam_epoch) / adam_epoch,
        "gather_index": s["gather_index"], "gather_select": s["gather_index_select"],
    }


def optimizer_figures(results: dict) -> dict[str, float]:
    """How many optimizers meet the step-time target on each path, and the extreme ratios."""
    entries = results["optimizer_step"]
    target = entries[0]["target"]
    return {
        "n_optimizers": len(entries), "tensors": entries[0]["tensors"], "step_target": target,
        "step_met": sum(e["ratio"] <= target for e in entries),
        "step_met_foreach": sum(e["ratio_foreach"] <= target for e in entries),
        "step_worst": max(e["ratio"] for e in entries),
        "step_worst_foreach": max(e["ratio_foreach"] for e in entries),
        "step_ratio_mean": sum(e["ratio"] for e in entries) / len(entries),
    }


def gan_figures(results: dict) -> dict[str, float]:
    """Range of iteration rates and homework run times over the Lipschitz methods, and the share
    of a run its snapshots take."""
    gans = results["gan"]
    share = [g["homework_snapshots"] * g["snapshot_seconds"] / g["homework_run_seconds"]
             for g in gans]
    return {
        "gan_iterations": gans[0]["homework_iterations"],
        "gan_snapshots": gans[0]["homework_snapshots"],
        "gan_eval_samples": gans[0]["eval_samples"],
        "gan_fastest": max(g["iterations_per_second"] for g in gans),
        "gan_slowest": min(g["iterations_per_second"] for g in gans),
        "gan_run_min": min(g["homework_run_seconds"] for g in gans),
        "gan_run_max": max(g["homework_run_seconds"] for g in gans),
        "gan_snapshot_share_min": 100 * min(share),
        "gan_snapshot_share_max": 100 * max(share),
    }


def _steps(results: dict) -> dict[str, dict[str, float]]:
    return {entry["optimizer"]: entry["seconds_per_step"] for entry in results["optimizer_step"]}
