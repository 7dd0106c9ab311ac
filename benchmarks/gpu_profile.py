"""Profile of the compiled engine step on CUDA: kernels per step, GPU time per step, top kernels.

Run on a GPU machine: ``python benchmarks/gpu_profile.py`` (batch 65536, float32, rigid
tendons, the harness scenario of ``bench_engine.py``). A developer's tool: prints, no JSON.
If the wall time per step is well above the GPU time per step, the step is launch-bound
(CUDA graphs or fewer kernels help); else the kernels themselves are the limit.

Both parameter forms are profiled (``--bodies`` picks one): copied per batch member
(``EngineParams.from_body(..., shared=False)``) and held once for the batch
(``shared=True``, stride-0 views: the step reads each parameter once).

``--variants`` times other ways to run the same step instead of profiling (ms per simulated
step, same batch, same constant excitation): ``K`` steps in one compiled call (dynamo unrolls
them, so inductor may fuse across steps), inductor's ``coordinate_descent_tuning``, and CUDA
graphs (``mode="reduce-overhead"``).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_engine as be  # noqa: E402
from twin.engine.build import EngineParams  # noqa: E402
from twin.engine.simulate import _guarded, compile_or_eager, make_stepper  # noqa: E402


def tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from tensors(getattr(obj, f.name))
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            yield from tensors(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from tensors(v)


def setup(b, spec, shared=False):
    p = EngineParams.from_body(spec, batch=b, dtype=torch.float32, device="cuda", rigid_tendon=True, shared=shared)
    s = be.harness_start(p)
    e = torch.full((b, p.n_muscles), 0.1, device="cuda")
    return p, s, e


def timed(stepper, p, s, e, n, *, graphs=False):
    for _ in range(3):
        if graphs:
            torch.compiler.cudagraph_mark_step_begin()
        s, _ = stepper(p, s, e, be.DT, "semi_implicit_euler", None)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        if graphs:
            torch.compiler.cudagraph_mark_step_begin()
        s, _ = stepper(p, s, e, be.DT, "semi_implicit_euler", None)
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n


def several_steps(k):
    """``k`` guarded steps as one function (one compiled graph)."""
    def run(p, s, e, dt, integrator, fall_height):
        for _ in range(k):
            s, out = _guarded(p, s, e, dt, integrator, fall_height)
        return s, out
    return run


def variants(spec, b, shared, k):
    """ms per simulated step of the default compiled step and of the variants (see the module doc)."""
    form = "shared body" if shared else "per-member parameters"
    runs = [("default compile", make_stepper(compile=True), 1, False),
            (f"{k} steps per compiled call", compile_or_eager(several_steps(k)), k, False),
            ("coordinate_descent_tuning", compile_or_eager(_guarded, options={"coordinate_descent_tuning": True}), 1,
             False),
            ("CUDA graphs (reduce-overhead)", make_stepper(compile="reduce-overhead"), 1, True)]
    for label, step, per_call, graphs in runs:
        torch.cuda.empty_cache()
        t0 = time.perf_counter()
        try:
            p, s, e = setup(b, spec, shared)
            sec = timed(step, p, s, e, max(1, 200 // per_call), graphs=graphs) / per_call
        except Exception as err:  # report, go on with the next variant
            print(f"{label}, batch {b}, {form}: failed ({type(err).__name__}: {str(err)[:200]})", flush=True)
            continue
        print(f"{label}, batch {b}, {form}: {sec * 1e3:.3f} ms/step = {b * be.DT / sec:,.0f}x real time "
              f"(section {time.perf_counter() - t0:.0f} s with compilation)", flush=True)
        del p, s, e


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", choices=tuple(be.FORMS), default="both")
    parser.add_argument("--batch", type=int, default=65536)
    parser.add_argument("--variants", action="store_true", help="time the variants instead of profiling")
    parser.add_argument("--steps-per-call", type=int, default=4, help="K of the K-steps-per-call variant")
    args = parser.parse_args()
    torch.set_float32_matmul_precision("high")
    body = be.BodyParams.default(lumbar=False, marker_sets=())
    spec = be.harness_spec(body)
    step = make_stepper(compile=True)
    for shared in be.FORMS[args.bodies]:
        if args.variants:
            variants(spec, args.batch, shared, args.steps_per_call)
        else:
            profile_one(step, spec, args.batch, shared)
        torch.cuda.empty_cache()


def profile_one(step, spec, b, shared):
    form = "shared body" if shared else "per-member parameters"
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    p, s, e = setup(b, spec, shared)
    n_tensors = sum(1 for _ in tensors(p))
    n_bytes = sum(t.untyped_storage().nbytes() for t in tensors(p)) + sum(
        v.untyped_storage().nbytes() for v in vars(p.bl).values() if isinstance(v, torch.Tensor))
    print(f"== {form}: EngineParams holds {n_tensors} tensors, {n_bytes / b:.0f} bytes per element with its "
          "batch-last view", flush=True)
    ms = timed(step, p, s, e, 50) * 1e3
    print(f"default compile, batch {b}, {form}: {ms:.3f} ms/step, peak CUDA memory "
          f"{(torch.cuda.max_memory_allocated() - before) / b:.0f} bytes per element", flush=True)
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(10):
            s, _ = step(p, s, e, be.DT, "semi_implicit_euler", None)
        torch.cuda.synchronize()
    ka = prof.key_averages()
    kernels = [k for k in ka if k.device_type.name == "CUDA"]
    print(f"CUDA kernels per step: {sum(k.count for k in kernels) / 10:.0f}; GPU time per step "
          f"{sum(k.device_time_total for k in kernels) / 10 / 1e3:.3f} ms", flush=True)
    try:
        print(ka.table(sort_by="self_device_time_total", row_limit=25, max_name_column_width=70), flush=True)
    except Exception:
        print(ka.table(sort_by="self_cuda_time_total", row_limit=25, max_name_column_width=70), flush=True)


if __name__ == "__main__":
    main()
