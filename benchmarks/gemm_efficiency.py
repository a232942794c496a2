"""How close hwprof's `matmul` gets to the hardware: against numpy's BLAS and a measured FMA peak.

The FMA peak comes from a small C kernel compiled here (gcc -O3 -march=native -fopenmp): every
thread runs 12 independent chains of vector fused multiply-adds, the most FLOPs a core can retire.
It is the "measured" ceiling; the peak `hwprof detect` prints is an estimate from the advertised
clock. Prints achieved GFLOP/s for each and the ratios.

    .venv/bin/python benchmarks/gemm_efficiency.py [--size 4096] [--seconds 6]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np

from hwprof.backends.cpu import detect_cpu
from hwprof.core.spec import RunSpec
from hwprof.services.runs import execute_run

FMA_KERNEL = r"""
#include <omp.h>
#include <stdio.h>
typedef float v16 __attribute__((vector_size(64)));
int main(void) {
  const long iters = 200000000L / 16;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = omp_get_wtime();
    double total = 0;
    #pragma omp parallel reduction(+:total)
    {
      /* distinct start values: identical chains would be merged into one by the compiler */
      v16 a[12], b, c;
      for (int i = 0; i < 16; i++) { b[i] = 0.999999f; c[i] = 1e-6f; }
      for (int j = 0; j < 12; j++) for (int i = 0; i < 16; i++) a[j][i] = j + 0.001f * i;
      v16 a0=a[0],a1=a[1],a2=a[2],a3=a[3],a4=a[4],a5=a[5],a6=a[6],a7=a[7],a8=a[8],a9=a[9],
          a10=a[10],a11=a[11];
      for (long k = 0; k < iters; k++) {
        a0=a0*b+c; a1=a1*b+c; a2=a2*b+c; a3=a3*b+c; a4=a4*b+c; a5=a5*b+c;
        a6=a6*b+c; a7=a7*b+c; a8=a8*b+c; a9=a9*b+c; a10=a10*b+c; a11=a11*b+c;
      }
      v16 s = a0+a1+a2+a3+a4+a5+a6+a7+a8+a9+a10+a11;
      total = s[0] + s[15];
    }
    double dt = omp_get_wtime() - t0;
    double flops = 2.0 * 16 * 12 * (double)iters * omp_get_max_threads();
    if (flops / dt > best) best = flops / dt;
    if (total == 12345.0) printf("#");
  }
  printf("%.6e\n", best);
  return 0;
}
"""


def fma_peak() -> float | None:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "fma.c"), os.path.join(tmp, "fma")
        with open(src, "w") as fh:
            fh.write(FMA_KERNEL)
        built = subprocess.run([cc, "-O3", "-march=native", "-ffp-contract=fast", "-fopenmp", src,
                                "-o", exe], capture_output=True, text=True)
        if built.returncode != 0:
            print("could not build the FMA kernel:", built.stderr[-500:])
            return None
        out = subprocess.run([exe], capture_output=True, text=True, check=True)
        return float(out.stdout.strip().lstrip("#"))


def numpy_gflops(n: int, seconds: float) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        count += 1
    return 2.0 * n**3 * count / (time.perf_counter() - t0)


def hwprof_gflops(n: int, precision: str, seconds: float) -> float:
    spec = RunSpec(workload="matmul", mode="infer", size=n, precision=precision,  # type: ignore[arg-type]
                   duration_seconds=seconds, warmup_steps=2)
    r = execute_run(spec).result
    if not r.ok or r.achieved_flops is None:
        raise SystemExit(f"hwprof run failed: {r.reason}")
    return r.achieved_flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    n = args.size
    cpu = detect_cpu()
    estimate = cpu.peak.fp32_flops if cpu.peak else None
    peak = fma_peak()
    np_f = numpy_gflops(n, args.seconds)
    tf32 = hwprof_gflops(n, "fp32", args.seconds)
    tbf16 = hwprof_gflops(n, "mixed_bfloat16", args.seconds)
    g = 1e9
    print(f"CPU: {cpu.model_name}, {cpu.physical_cores} cores, {cpu.logical_cpus} logical")
    if estimate:
        print(f"peak estimate (hwprof detect)      {estimate / g:8.1f} GFLOP/s fp32")
    if peak:
        print(f"measured FMA peak (C kernel)       {peak / g:8.1f} GFLOP/s fp32")
    print(f"numpy BLAS sgemm N={n}           {np_f / g:8.1f} GFLOP/s")
    print(f"hwprof matmul fp32 N={n}         {tf32 / g:8.1f} GFLOP/s")
    print(f"hwprof matmul bf16 N={n}         {tbf16 / g:8.1f} GFLOP/s")
    print("ratios:")
    if peak:
        print(f"  hwprof fp32 / measured FMA peak  {tf32 / peak:.3f}")
    print(f"  hwprof fp32 / numpy BLAS         {tf32 / np_f:.3f}")
    print(f"  hwprof bf16 / hwprof fp32        {tbf16 / tf32:.3f}")
    if estimate:
        print(f"  measured FMA peak / estimate     {(peak or 0) / estimate:.3f}")


if __name__ == "__main__":
    main()
