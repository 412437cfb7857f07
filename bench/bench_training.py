"""Times PyTorch CPU training steps on a Darknet cfg, the peer of `mishnet train-benchmark`.

    python3 bench/bench_training.py CFG --width W --height H --batch N --iters N --warmup N
        --threads N [--loss softmax-ce|sum-squares]

One step = zero grads, forward in train mode (batch statistics), loss, backward, SGD update
(momentum 0.9, weight decay 0.0005, as Darknet's [net] defaults). The model comes from
bench/torch_darknet.py, so the architecture is the cfg's, layer for layer. Inputs are random,
truth a random one-hot per image. Prints the median step time and the peak resident memory in
the same words as the C++ command, so bench/run_training.sh can parse both alike.
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_darknet import DarknetModel  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument('cfg')
    p.add_argument('--width', type=int, default=0)
    p.add_argument('--height', type=int, default=0)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--threads', type=int, default=2)
    # yolo-sum-squares: half the sum of squares of every [yolo] output, a stand-in for the YOLO
    # loss with the same backward shape (mishnet computes the real loss; the loss itself is a
    # small part of the step).
    p.add_argument('--loss', choices=['softmax-ce', 'sum-squares', 'yolo-sum-squares'], default='softmax-ce')
    p.add_argument('--no-channels-last', action='store_true')
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = DarknetModel(a.cfg, a.width or None, a.height or None)
    model.train()
    memory_format = torch.contiguous_format if a.no_channels_last else torch.channels_last
    model = model.to(memory_format=memory_format)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=0.0005)

    x = torch.rand(a.batch, model.channels, model.height, model.width).contiguous(memory_format=memory_format)
    c_out = model.shapes[-1][0] * model.shapes[-1][1] * model.shapes[-1][2]
    truth = F.one_hot(torch.randint(0, c_out, (a.batch,)), c_out).float()

    def step():
        opt.zero_grad(set_to_none=True)
        if a.loss == 'yolo-sum-squares':
            loss = sum((y.float() ** 2).sum() for y in model.network_outputs(x)) * 0.5
            loss.backward()
            opt.step()
            return loss.item()
        y, _ = model(x)
        if a.loss == 'softmax-ce':
            # The cfg ends in [softmax], so y is already probabilities: mishnet's loss, summed.
            loss = -(truth * torch.log(y.flatten(1).clamp_min(1e-30))).sum()
        else:
            loss = (y.float() ** 2).sum() * 0.5
        loss.backward()
        opt.step()
        return loss.item()

    print('%s: input %dx%dx%d, batch %d, %d threads, PyTorch %s, %s, loss %s' % (
        a.cfg, model.width, model.height, model.channels, a.batch, torch.get_num_threads(), torch.__version__,
        'NCHW' if a.no_channels_last else 'channels_last', a.loss))
    print('step: zero grads, forward (train mode), backward, SGD update; %d warm-up then %d timed' % (
        a.warmup, a.iters))
    sys.stdout.flush()
    for _ in range(a.warmup):
        step()
    secs = []
    for i in range(a.iters):
        t0 = time.perf_counter()
        loss = step()
        secs.append(time.perf_counter() - t0)
        print('step %d: %.3f s, loss %.4f' % (i + 1, secs[-1], loss))
        sys.stdout.flush()
    print('median %.3f s per iteration (min %.3f, max %.3f)' % (statistics.median(secs), min(secs), max(secs)))
    print('peak RSS %.0f MiB' % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))


if __name__ == '__main__':
    main()
