#!/usr/bin/env python3
"""Merges the GPU run's JSON files into results.json and prints the summary table (also summary.md).

Inputs in --dir (written by run-on-gpu.sh's phases, each possibly missing or partial):
  parity.json, parity-rerun-*.json   GpuHarness parity (the reruns: cases left after a lost CUDA context)
  bench-arunet.json                  GpuHarness bench
  bench-torch.json                   aru_net_torch.py bench
  phases.json                        each phase's exit status and seconds (from run-on-gpu.sh)
Outputs: results.json (everything above, merged; the inputs are then removed so that the run's output
folder stays within the device tool's eight files) and summary.md. Standard library only.
"""
import argparse
import glob
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"missing": f"{os.path.basename(path)}: {e}"}


# arunet's inference variants without a PyTorch row of their own (compared with PyTorch's eager "infer"):
# graph = replayed from a CUDA graph; fused / fusedgraph = the fused inference path (-Darunet.cuda.fused)
INFER_VARIANTS = ("graph", "fused", "fusedgraph")


def key(r):
    return (r.get("precision"), r.get("mode"), r.get("batch"))


def fmt(v, digits=2):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.{digits}f}"


def gib(v):
    return None if v is None else v / 2 ** 30


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--keep-inputs", action="store_true", help="do not delete the per-phase JSON files")
    args = ap.parse_args()
    d = args.dir
    parity_files = [os.path.join(d, "parity.json")] + sorted(glob.glob(os.path.join(d, "parity-rerun-*.json")))
    parity = [load(p) for p in parity_files if os.path.exists(p)]
    ours = load(os.path.join(d, "bench-arunet.json"))
    torch = load(os.path.join(d, "bench-torch.json"))
    phases = load(os.path.join(d, "phases.json"))

    lines = []
    env = ours.get("environment") or (parity[0].get("environment") if parity else {}) or {}
    tenv = torch.get("environment", {})
    gpu = env.get("gpu") or tenv.get("gpu") or "?"
    rehearsal = isinstance(phases, dict) and phases.get("rehearsal") == 1
    lines.append(("# REHEARSAL without a GPU (reference backend, PyTorch on the CPU; the numbers mean nothing): "
                  if rehearsal else "# arunet on the GPU: ") + gpu)
    lines.append("")
    lines.append(f"PyTorch peer: torch {tenv.get('torch', '?')}, CUDA {tenv.get('cuda', '?')}, cuDNN "
                 f"{tenv.get('cudnn', '?')}, GPU {tenv.get('gpu', '?')}")
    lines.append("")

    # ------------------------------------------------------------------------------------- parity
    lines.append("## Parity (arunet CUDA vs the CPU backend; tiny model vs the PyTorch fixture)")
    lines.append("")
    cases = []
    for p in parity:
        cases.extend(p.get("cases", []))
    groups = {}
    for c in cases:
        g = groups.setdefault((c["precision"], c["group"]), {"passed": 0, "run": 0, "worst": 0.0})
        g["run"] += 1
        g["passed"] += 1 if c["pass"] else 0
        for o in c.get("outputs", []):
            if isinstance(o.get("norm_rel"), (int, float)):
                g["worst"] = max(g["worst"], o["norm_rel"])
    if groups:
        lines.append("| precision | group | passed / run | worst norm-rel error |")
        lines.append("|---|---|---|---|")
        for (prec, group), g in groups.items():
            lines.append(f"| {prec} | {group} | {g['passed']} / {g['run']} | {g['worst']:.2e} |")
    else:
        lines.append("(no parity results: " + "; ".join(p.get("missing", "?") for p in parity) + ")")
    failed = [c for c in cases if not c["pass"]]
    crashed = phases.get("crashed", []) if isinstance(phases, dict) else []
    ran = {(c["precision"], c["name"].split("/")[0] == "fixture" and "fixture" or c["name"]) for c in cases}
    not_run = sorted({n for p in parity for n in p.get("not_run", []) if tuple(n.split(" ", 1)) not in ran})
    lines.append("")
    lines.append(f"{len(cases) - len(failed)} of {len(cases)} cases passed"
                 + (f"; {len(not_run)} not run" if not_run else "")
                 + (f"; {len(crashed)} crashed their JVM" if crashed else "") + ".")
    for c in crashed:
        lines.append(f"- CRASH {c}: the JVM died during this case (see run.log for the JVM's message)")
    for c in failed[:40]:
        bad = [o for o in c.get("outputs", []) if not o.get("pass")]
        detail = c.get("error") or "; ".join(
            f"{o['output']}: max|d| {o.get('max_abs')}, norm-rel {o.get('norm_rel')} ({o.get('tolerance')})"
            for o in bad[:3])
        lines.append(f"- FAIL [{c['precision']}] {c['name']}: {detail}")
    lines.append("")
    amp = [a for p in parity for a in p.get("amp_gradient_checks", [])]
    if amp:
        lines.append("### fp16 / bf16 gradients vs PyTorch AMP's own spread")
        lines.append("")
        lines.append("Norm-wise relative error of each parameter's gradient vs float32 (the CPU backend's for the "
                     "model case, the fixture's for the fixture; PyTorch: its autocast gradients of the fixture vs "
                     "the fixture's). Pass: arunet's median <= 1.25 x PyTorch's and each parameter <= max(2 x "
                     "PyTorch's on it, 5 x PyTorch's median).")
        lines.append("")
        lines.append("| precision | case | arunet median | arunet worst | PyTorch median | PyTorch worst | PyTorch "
                     "spread | verdict |")
        lines.append("|---|---|---|---|---|---|---|---|")
        num = lambda v: f"{v:.3g}" if isinstance(v, (int, float)) else str(v)
        for a in amp:
            over = a.get("over_bound") or {}
            verdict = "PASS" if a["pass"] else "FAIL" + ("" if a.get("median_ok") else " (median)") + (
                f" ({len(over)} over: {', '.join(list(over)[:3])})" if over else "")
            lines.append(f"| {a['precision']} | {a['case'].split('/')[0]} | {num(a['arunet_median'])} | "
                         f"{num(a['arunet_worst'])} ({a['arunet_worst_parameter']}) | {num(a['torch_median'])} | "
                         f"{num(a['torch_worst'])} ({a['torch_worst_parameter']}) | "
                         f"{'measured in this run' if a.get('torch_measured_in_this_run') else 'NOT measured: H200 calibration'}"
                         f" | {verdict} |")
        origin = next((p.get("amp_spread") for p in parity if p.get("amp_spread")), {}) or {}
        if origin.get("torch"):
            lines.append("")
            lines.append(f"PyTorch AMP spread: torch {origin.get('torch')} on {origin.get('device')} "
                         f"({origin.get('gpu')}), benchmarks/gpu/amp_gradient_spread.py.")
        for prec in ("fp16", "bf16"):
            src = (origin.get(prec) or {}).get("source", "")
            if "NOT measured" in src:
                lines.append(f"- {prec}: {src}")
        lines.append("")

    # ------------------------------------------------------------------------------------- throughput
    size = None
    width = next((r.get("width") for r in ours.get("results", []) + torch.get("results", [])), None)
    lines.append(f"## Throughput, ARU-Net (width {width}" + (", 39,475,748 parameters)" if width == 64 else ")"))
    lines.append("")
    rows = []
    theirs = {key(r): r for r in torch.get("results", [])}
    every = dict(theirs)
    for r in ours.get("results", []):
        if r.get("mode") in INFER_VARIANTS:  # arunet-only inference rows: against the peer's eager inference
            rows.append((r, every.get((r.get("precision"), "infer", r.get("batch")))))
        else:
            rows.append((r, theirs.pop(key(r), None)))
        size = size or r.get("size")
    for r in theirs.values():
        if r.get("mode") in INFER_VARIANTS:  # the peer's placeholders for arunet-only rows
            continue
        rows.append((None, r))
        size = size or r.get("size")
    lines.append(f"Input {size}x{size}x3 NHWC (PyTorch: channels_last), images per second; training = forward, "
                 f"CE + Dice, backward, Adam (fp16: with loss scaling); time per iteration median; peak = device "
                 f"memory allocated (arunet's pool in use / torch.cuda.max_memory_allocated).")
    lines.append("")
    lines.append("| precision | mode | batch | arunet img/s | PyTorch img/s | ratio | arunet ms | PyTorch ms "
                 "| arunet peak GiB | PyTorch peak GiB |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for a, t in rows:
        ref = a or t
        aok = a is not None and a.get("status") == "ok"
        tok = t is not None and t.get("status") == "ok"
        ratio = a["images_per_s"] / t["images_per_s"] if aok and tok else None
        cell = lambda r, ok, k, dg=2: fmt(r.get(k), dg) if ok else ("-" if r is None else r.get("status", "?"))
        lines.append(f"| {ref['precision']} | {ref['mode']} | {ref['batch']} | {cell(a, aok, 'images_per_s', 1)} | "
                     f"{cell(t, tok, 'images_per_s', 1)} | {fmt(ratio)} | {cell(a, aok, 'ms_median')} | "
                     f"{cell(t, tok, 'ms_median')} | {fmt(gib(a.get('peak_bytes')) if aok else None)} | "
                     f"{fmt(gib(t.get('peak_bytes')) if tok else None)} |")
    errors = [(who, r) for who, doc in (("arunet", ours), ("PyTorch", torch)) for r in doc.get("results", [])
              if r.get("status") == "failed"]
    for who, r in errors:
        lines.append(f"- {who} {r['precision']}:{r['mode']}:{r['batch']} failed: {r.get('error', '?')[:300]}")
    lines.append("")

    # ------------------------------------------------------------------------------------- targets
    lines.append("## Targets of issue 7 (one H100)")
    lines.append("")
    for prec in ("fp16", "bf16"):
        for mode in ("infer", "fused", "train"):
            pairs = [(a, t) for a, t in rows if a and t and a.get("precision") == prec and a.get("mode") == mode
                     and a.get("status") == "ok" and t.get("status") == "ok"]
            if pairs:
                worst = min(a["images_per_s"] / t["images_per_s"] for a, t in pairs)
                lines.append(f"- {prec} {mode} throughput >= 1.0x PyTorch eager AMP: "
                             f"{'MET' if worst >= 1.0 else 'NOT MET'} (lowest ratio {worst:.2f} over batches "
                             f"{', '.join(str(a['batch']) for a, _ in pairs)})")
    for prec in ("fp16", "bf16", "fp32"):
        for mode in ("infer",) + INFER_VARIANTS:
            b1 = [a for a, _ in rows if a and a.get("precision") == prec and a.get("mode") == mode
                  and a.get("batch") == 1 and a.get("status") == "ok"]
            if b1:
                ms = b1[0]["ms_median"]
                lines.append(f"- batch-1 latency at {size}x{size} <= 5 ms ({prec}, {mode}): "
                             f"{'MET' if ms <= 5 else 'NOT MET'} ({ms:.2f} ms median)")
    lines.append("")
    if isinstance(phases, dict) and "phases" in phases:
        lines.append("Phases: " + ", ".join(f"{p['name']} {p['status']} ({p['seconds']} s)" for p in phases["phases"]))

    text = "\n".join(lines) + "\n"
    with open(os.path.join(d, "summary.md"), "w") as f:
        f.write(text)
    merged = {"environment": env, "torch_environment": tenv, "phases": phases, "parity": parity,
              "arunet_bench": ours, "torch_bench": torch}
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(merged, f, indent=2)
    if not args.keep_inputs:
        for p in parity_files + [os.path.join(d, n) for n in ("bench-arunet.json", "bench-torch.json", "phases.json")]:
            if os.path.exists(p):
                os.remove(p)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
