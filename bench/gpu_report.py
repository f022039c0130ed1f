"""Markdown tables from bench/gpu_check.sh's results.json (what the README's GPU section quotes).

    python bench/gpu_report.py bench/results/gpu-h200-run2.json [more results.json ...]

Each file is reported as it is, with its device; nothing is combined across files.
"""

from __future__ import annotations

import json
import sys


def _speedup(part: dict, label: str) -> list[str]:
    out = [
        f"**{label}** on {part.get('device', '?')}",
        "",
        "| configuration | step ms | samples/s | peak GPU MiB | speedup |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in part.get("rows", []):
        if "error" in r:
            out.append(f"| {r['config']} | failed: {r['error'][:80]} | | | |")
            continue
        peak = f"{r['peak_gpu_memory_mb']:,.0f}" if r.get("peak_gpu_memory_mb") is not None else "-"
        out.append(f"| {r['config']} | {r['step_ms']:.2f} | {r['samples_per_s']:,.0f} | {peak} | {r['speedup']:.2f}x |")
    return out + [""]


def report(results: dict) -> str:
    lines = []
    hw = results.get("hardware", {}).get("hardware")
    if hw:
        gpus = ", ".join(
            f"{g['name']} ({g['memory_gb']} GB, CC {g['compute_capability'][0]}.{g['compute_capability'][1]})"
            for g in hw["gpus"]
        )
        lines += [
            f"Hardware: {gpus}; torch {hw['torch_version']}, CUDA {hw['cuda_version']}, cuDNN {hw['cudnn_version']}, "
            f"NCCL {hw['nccl_version']}; {hw['cpu_cores']} CPU cores.",
            "",
        ]
        lines += [
            f"- {name}: {'usable' if lib['usable'] else 'not usable'} - {lib['reason']}"
            for name, lib in hw["libraries"].items()
        ]
        lines.append("")
    install = results.get("install", {})
    for extra in install.get("gpu_extras", []):
        lines.append(
            f"- `pip install {extra['requirement']}`: exit {extra['exit_code']} "
            f"({extra['output_tail'].strip().splitlines()[-1] if extra['output_tail'].strip() else ''})"
        )
    lines.append("")
    for key, label in (("speedup_transformer", "Transformer denoiser"), ("speedup_unet", "1-D U-Net denoiser")):
        if key in results and "rows" in results[key]:
            lines += _speedup(results[key], label)
    for key in ("train", "train_cuda_graphs"):
        t = results.get(key)
        if not t:
            continue
        if t.get("status") != "succeeded":
            lines += [
                f"**{key}**: {t.get('status', 'no status')} - {str(t.get('message') or t.get('stdout_tail', ''))[:300]}",
                "",
            ]
            continue
        q = t["quality"]
        m, rw, ew = q["model"]["crps"], q["random_walk"]["crps"], q["ewma_gaussian"]["crps"]
        lines += [
            f"**{key}** ({t['artifact']}): {len(t['history'])} epochs in {t['step_wall_s']} s wall (command start to "
            f"registered version, scoring included); test CRPS on {q['windows']} windows: model {m * 1e4:.2f}e-4, "
            f"EWMA Gaussian {ew * 1e4:.2f}e-4 ({(ew - m) / ew:+.1%}), random walk {rw * 1e4:.2f}e-4 ({(rw - m) / rw:+.1%}); "
            f"q05-q95 coverage {q['model']['coverage_q05_q95']:.3f}.",
            "",
        ]
    fc = results.get("forecast", {})
    if fc.get("rows"):
        lines += ["| forecasts | device | windows per batch | seconds | forecasts/s |", "|---|---|---:|---:|---:|"]
        lines += [
            f"| {r['windows']} | {r['device']} | {r['windows_per_batch']} | {r['seconds']:.2f} | {r['forecasts_per_s']:,.0f} |"
            for r in fc["rows"]
        ]
        lines.append("")
    att = results.get("attention", {})
    if att.get("rows"):
        lines += [
            f"flash-attn installed: {att['flash_attn'].get('installed')} {att['flash_attn'].get('reason', '')}",
            "",
            "| shape | dtype | kernel | max abs diff out | max abs diff grad | fwd+bwd ms |",
            "|---|---|---|---:|---:|---:|",
        ]
        for r in att["rows"]:
            if "error" in r:
                lines.append(f"| {r['shape']} | {r['dtype']} | {r['kernel']} | failed: {r['error'][:60]} | | |")
            else:
                lines.append(
                    f"| {r['shape']} | {r['dtype']} | {r['kernel']} | {r['max_abs_diff_out']:.2e} | "
                    f"{r['max_abs_diff_grad']:.2e} | {r['fwd_bwd_ms']:.2f} |"
                )
        lines.append("")
    ld = results.get("loader", {})
    if ld.get("rows"):
        lines += [
            f"Loaders, {ld['windows']:,} windows, batch {ld['batch_size']}:",
            "",
            "| loader | samples/s |",
            "|---|---:|",
        ]
        lines += [
            f"| {r['loader']} | {r['samples_per_s']:,.0f} |"
            if "samples_per_s" in r
            else f"| {r['loader']} | failed: {r['error'][:80]} |"
            for r in ld["rows"]
        ]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(f"## {path}\n")
        print(report(json.load(open(path))))
