"""Times PyTorch CPU inference (batch 1) on a Darknet cfg, the PyTorch peer of mishnet_bench.

    python3 bench/bench_torch_inference.py CFG --width W --height H --threads N
        [--warmup N] [--iters N] [--variant best|eager|eager-cl|frozen|frozen-cl|frozen-opt]
        [--probe N] [--weights FILE]

The model comes from bench/torch_darknet.py (the cfg's architecture layer for layer, the outputs of
every [yolo] layer with Darknet's inference activation, or the last layer's output), the Darknet
--weights given (bench/run.sh passes mishnet's initialisation, seed 1, the weights mishnet and OpenCV
run with) or else PyTorch's own random initialisation, and a random input. Always: torch.set_num_threads(N), eval mode (batch norm uses its running
statistics), no autograd (torch.inference_mode for eager, torch.no_grad for TorchScript), and
denormals flushed to zero (torch.set_flush_denormal; randomly initialised deep networks otherwise
produce denormal activations that slow the CPU down, which would not be PyTorch's fault).
Variants, the settings PyTorch 1.13 offers on the CPU:
  eager       nn.Module as built, NCHW
  eager-cl    eager, channels_last (NHWC) weights and input
  frozen      torch.jit.trace + torch.jit.freeze (folds batch norm into the convolutions), NCHW
  frozen-cl   trace + freeze, channels_last
  frozen-opt  trace + freeze + torch.jit.optimize_for_inference (oneDNN layout across layers), NCHW
`--variant best` (the default) times each variant for --probe runs after two warm-ups
(TorchScript optimises the graph on its second run), keeps the
fastest and reports it. Prints one line per variant tried, then, for the one kept,
    variant: NAME (settings in words)
    median X ms per forward (min Y, max Z)
so that bench/run.sh parses it as it does mishnet_bench's table.
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_darknet import DarknetModel  # noqa: E402

VARIANTS = {
    'eager': 'eager nn.Module, NCHW',
    'eager-cl': 'eager nn.Module, channels_last',
    'frozen': 'TorchScript trace + torch.jit.freeze, NCHW',
    'frozen-cl': 'TorchScript trace + torch.jit.freeze, channels_last',
    'frozen-opt': 'TorchScript trace + torch.jit.freeze + torch.jit.optimize_for_inference, NCHW',
}


class Outputs(torch.nn.Module):
    """The network's outputs only (a tuple of tensors), which is what tracing needs."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.network_outputs(x)


def build(model, x, variant):
    """A callable running one forward of `variant`, and the input it expects."""
    channels_last = variant.endswith('-cl')
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = Outputs(model).to(memory_format=fmt).eval()
    xin = x.contiguous(memory_format=fmt)
    if variant.startswith('eager'):
        def run():
            with torch.inference_mode():
                return net(xin)
        return run
    with torch.no_grad():
        scripted = torch.jit.freeze(torch.jit.trace(net, xin).eval())
        if variant == 'frozen-opt':
            scripted = torch.jit.optimize_for_inference(scripted)

    def run():
        with torch.no_grad():
            return scripted(xin)
    return run


def time_runs(run, warmup, iters):
    for _ in range(warmup):
        run()
    ms = []
    for _ in range(iters):
        t0 = time.perf_counter()
        run()
        ms.append(1000.0 * (time.perf_counter() - t0))
    return ms


def main():
    p = argparse.ArgumentParser()
    p.add_argument('cfg')
    p.add_argument('--width', type=int, default=0)
    p.add_argument('--height', type=int, default=0)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--variant', choices=['best'] + list(VARIANTS), default='best')
    p.add_argument('--probe', type=int, default=3, help='timed runs per variant when choosing the best')
    p.add_argument('--weights', default='', help='Darknet .weights for the cfg (default: random)')
    a = p.parse_args()
    if a.iters < 1 or a.warmup < 0 or a.threads < 1 or a.probe < 1:
        p.error('iters, threads, probe >= 1; warmup >= 0')

    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(1)
    model = DarknetModel(a.cfg, a.width or None, a.height or None).eval()
    if a.weights:
        model.load_darknet_weights(a.weights)
    x = torch.rand(1, model.channels, model.height, model.width)
    print('%s: input %dx%dx%d, batch 1, %d threads, PyTorch %s, oneDNN %s, weights %s' % (
        a.cfg, model.width, model.height, model.channels, torch.get_num_threads(), torch.__version__,
        'on' if torch.backends.mkldnn.is_available() else 'off', a.weights or 'random'))
    sys.stdout.flush()

    if a.variant == 'best':
        probes = {}
        for name in VARIANTS:
            try:
                run = build(model, x, name)
                probes[name] = statistics.median(time_runs(run, 2, a.probe))
                print('probe %s: median %.1f ms of %d' % (name, probes[name], a.probe))
            except Exception as e:  # a variant PyTorch cannot do on this cfg is skipped, and said
                print('probe %s: failed: %s' % (name, str(e).splitlines()[0] if str(e) else type(e).__name__))
            sys.stdout.flush()
        if not probes:
            sys.exit('bench_torch_inference.py: every variant failed')
        chosen = min(probes, key=probes.get)
        probed = len(probes)
    else:
        chosen, probed = a.variant, 0
    run = build(model, x, chosen)
    ms = time_runs(run, a.warmup, a.iters)
    print('variant: %s (%s; eval, no autograd, flush denormals, %d threads%s)' % (
        chosen, VARIANTS[chosen], a.threads, ', fastest of the %d variants probed' % probed
        if probed else ''))
    print('median %.1f ms per forward (min %.1f, max %.1f; %d warm-up then %d timed)' % (
        statistics.median(ms), min(ms), max(ms), a.warmup, a.iters))


if __name__ == '__main__':
    main()
