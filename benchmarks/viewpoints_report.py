"""The JSON lines of bench_viewpoints.py as the Markdown tables of docs/benchmarks.md.

python benchmarks/viewpoints_report.py results.jsonl [more.jsonl ...]
"""

import json
import sys


def _pct(stats) -> str:
    return f"{100 * stats['mean']:.1f} ± {100 * stats['std']:.1f} %"


def _seeds(values) -> str:
    return ", ".join(f"{100 * v:.1f}" for v in values)


def at_target(epochs: list[dict], target: float, key: str = "affine_validation") -> float:
    """``key`` where the held-out accuracy first reaches ``target``, interpolated linearly in
    held-out accuracy between that epoch and the one before: the two models compared at
    exactly the same held-out accuracy rather than at whole epochs (when the first epoch
    already reaches it, that epoch's value)."""
    for before, after in zip([None, *epochs[:-1]], epochs, strict=True):
        if after["held_out"] >= target:
            if before is None or after["held_out"] == before["held_out"]:
                return after[key]
            share = (target - before["held_out"]) / (after["held_out"] - before["held_out"])
            return before[key] + max(share, 0.0) * (after[key] - before[key])
    raise ValueError(f"the held-out accuracy never reaches {target}")


def interpolated_gaps(records: list[dict], dataset: str, model: str = "capsnet") -> list[float]:
    """Per seed, ``model`` minus the CNN in affine validation accuracy at the exact target."""
    runs = [r for r in records if r["benchmark"] == "viewpoints" and r["dataset"] == dataset]
    gaps = []
    for mine in (r for r in runs if r["model"] == model):
        cnn = next(r for r in runs if r["model"] == "cnn" and r["seed"] == mine["seed"])
        target = mine["target_held_out"]
        gaps.append(at_target(mine["epochs"], target) - at_target(cnn["epochs"], target))
    return gaps


MARKS = {"stopped rising": "", "the cap": "*", "reached": "†"}  # after the epochs trained


def _why_stopped(record: dict) -> str:
    """A record's ``stopped_because``; older lines, without it, had only the other two."""
    if "stopped_because" in record:
        return record["stopped_because"]
    return "stopped rising" if record["stopped_rising"] else "the cap"


def markdown(records: list[dict]) -> str:
    """Tables for the summary lines (models, strengths) and the variant lines of ``records``."""
    out = []
    for summary in (r for r in records if r["benchmark"] == "viewpoints_summary"):
        dataset = summary["dataset"]
        models = [m for m in summary if isinstance(summary[m], dict) and "held_out" in summary[m]]
        runs = [
            r for r in records if r.get("dataset") == dataset and r["benchmark"] == "viewpoints"
        ]
        trained = all("epochs_trained" in r for r in runs)  # older lines: fixed epochs
        out += [f"**{dataset}**", "", "| model | held-out placed | affNIST-style test "
                "| test per seed | stopped at epoch | "
                + ("epochs trained (*: stopped by the cap, †: on reaching the CNN's best) | "
                   if trained else "")
                + "parameters (without decoder) |",
                "|---|---|---|---|---|---|" + ("---|" if trained else "")]  # fmt: skip
        for model in models:
            stats, mine = summary[model], [r for r in runs if r["model"] == model]
            stops = ", ".join(str(r["stopped_at_epoch"]) for r in mine)
            size = f"{mine[0]['n_parameters']:,} ({mine[0]['n_parameters_without_decoder']:,})"
            epochs = ", ".join(
                f"{r['epochs_trained']}{MARKS[_why_stopped(r)]}" for r in (mine if trained else [])
            )
            out.append(
                f"| {model} | {_pct(stats['held_out'])} | {_pct(stats['affine_test'])} | "
                f"{_seeds(stats['affine_test']['per_seed'])} | {stops} | "
                + (f"{epochs} | " if trained else "")
                + f"{size} |"
            )
        gap = summary["capsnet"]["minus_cnn_affine_test"]
        out += ["", f"CapsNet minus CNN on the affNIST-style test, paired by seed: "
                f"{', '.join(f'{100 * d:+.1f}' for d in gap['per_seed'])} points "
                f"(mean {100 * gap['mean']:+.1f}). At exactly the same held-out accuracy "
                "(affine validation accuracy interpolated between epochs): "
                f"{', '.join(f'{100 * d:+.1f}' for d in interpolated_gaps(records, dataset))}"
                " points.", ""]  # fmt: skip
        if "by_strength" in summary["capsnet"]:
            for kind, curve in summary["capsnet"]["by_strength"].items():
                out += [f"| {kind} | " + " | ".join(curve) + " |",
                        "|---|" + "---|" * len(curve)]  # fmt: skip
                for model in ("capsnet", "cnn"):
                    row = summary[model]["by_strength"][kind]
                    out.append(f"| {model} | " + " | ".join(_pct(row[s]) for s in row) + " |")
                out.append("")
        if len(models) > 2:
            out.append(f"Chosen on the affine validation set: {summary['chosen_on_validation']}.")
            out.append("")
    variants = [r for r in records if r["benchmark"] == "viewpoints" and r["model"] != "cnn"]
    if any(r["capsnet_params"] for r in variants):
        out += [
            "| variant | data, seed | parameters | target held-out | affine validation "
            "| affine test | CNN (sized to the default) at the same target: test | difference "
            "| validation difference at exactly the target |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in variants:
            cnn = r["cnn_at_same_target"]["affine_test"]
            cnn_run = next(
                c for c in records if c["benchmark"] == "viewpoints" and c["model"] == "cnn"
                and (c["dataset"], c["seed"]) == (r["dataset"], r["seed"])
            )  # fmt: skip
            target = r["target_held_out"]
            exact = at_target(r["epochs"], target) - at_target(cnn_run["epochs"], target)
            out.append(
                f"| {r['model']} `{json.dumps(r['capsnet_params'])}` | {r['dataset']}, "
                f"{r['seed']} | {r['n_parameters']:,} | "
                f"{100 * target:.1f} % | {100 * r['affine_validation']:.1f} % | "
                f"{100 * r['affine_test']:.1f} % | {100 * cnn:.1f} % | "
                f"{100 * (r['affine_test'] - cnn):+.1f} | {100 * exact:+.1f} |"
            )
    return "\n".join(out)


if __name__ == "__main__":
    lines = [json.loads(line) for path in sys.argv[1:] for line in open(path) if line[:1] == "{"]
    print(markdown(lines))
