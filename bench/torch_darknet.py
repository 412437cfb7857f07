"""Builds a PyTorch model from a Darknet .cfg (and optionally .weights).

Used two ways: by the gradient test (tests/pytorch/), where PyTorch is the independent oracle
for first-step parameter gradients, and by the benchmarks (bench/), where PyTorch is the CPU peer.
Supported: convolutional (groups, dilation, stride, padding, batch_normalize), route (layers,
groups, group_id), shortcut (from, activation; weights_type none), maxpool, avgpool, upsample,
connected, softmax, dropout, cost (identity), yolo (Darknet's inference activation: logistic on
x, y, objectness and classes, then scale_x_y on x and y; w and h raw).

forward() returns (last output, every layer's output) for the tests and the training benchmark;
network_outputs() returns only the network's outputs (every [yolo] layer, or the last layer) and
drops each intermediate tensor after its last use, for inference benchmarks and TorchScript tracing.
"""
import math
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-6  # mishnet's batch-norm epsilon (src/kernels/batchnorm.h)


def parse_cfg(path):
    sections = []
    for raw in open(path):
        line = raw.split('#')[0].strip()
        if not line or line.startswith(';'):
            continue
        if line.startswith('['):
            sections.append({'type': line[1:-1].strip(), 'opts': {}})
        else:
            key, value = line.split('=', 1)
            sections[-1]['opts'].setdefault(key.strip(), value.strip().replace(' ', ''))
    aliases = {'conv': 'convolutional', 'max': 'maxpool', 'avg': 'avgpool',
               'conn': 'connected', 'soft': 'softmax', 'network': 'net'}
    for s in sections:
        s['type'] = aliases.get(s['type'], s['type'])
    return sections


def activation(name):
    if name == 'linear':
        return lambda x: x
    if name == 'leaky':
        return lambda x: F.leaky_relu(x, 0.1)
    if name == 'relu':
        return F.relu
    if name == 'mish':
        return F.mish
    if name == 'swish':
        return F.silu
    if name == 'logistic':
        return torch.sigmoid
    if name == 'tanh':
        return torch.tanh
    raise ValueError('activation %s is not supported by torch_darknet' % name)


class DarknetModel(nn.Module):
    def __init__(self, cfg_path, width=None, height=None):
        super().__init__()
        sections = parse_cfg(cfg_path)
        net = sections[0]['opts']
        self.width = int(width or net.get('width', 0))
        self.height = int(height or net.get('height', 0))
        self.channels = int(net.get('channels', 3))
        self.defs = sections[1:]
        self.mods = nn.ModuleList()
        shapes = []  # (c, h, w) per layer
        c, h, w = self.channels, self.height, self.width
        self.param_order = []  # (tensor, darknet block name) in .weights order
        for i, s in enumerate(self.defs):
            o, t = s['opts'], s['type']
            mod = nn.Module()
            if t == 'convolutional':
                filters = int(o.get('filters', 1)); size = int(o.get('size', 1))
                stride = int(o.get('stride', 1)); groups = int(o.get('groups', 1))
                dil = int(o.get('dilation', 1))
                pad = int(o.get('padding', size // 2 if int(o.get('pad', 0)) else 0))
                bn = int(o.get('batch_normalize', 0))
                mod.conv = nn.Conv2d(c, filters, size, stride, pad, dilation=dil, groups=groups, bias=not bn)
                if bn:
                    mod.bn = nn.BatchNorm2d(filters, eps=BN_EPS, momentum=0.01)
                    self.param_order += [(mod.bn.bias, 'biases'), (mod.bn.weight, 'scales'),
                                         (mod.bn.running_mean, 'rolling_mean'), (mod.bn.running_var, 'rolling_variance')]
                else:
                    self.param_order += [(mod.conv.bias, 'biases')]
                self.param_order += [(mod.conv.weight, 'weights')]
                span = dil * (size - 1) + 1
                h = (h + 2 * pad - span) // stride + 1
                w = (w + 2 * pad - span) // stride + 1
                c = filters
            elif t == 'route':
                layers = [int(v) for v in o['layers'].split(',') if v]
                layers = [l if l >= 0 else i + l for l in layers]
                groups = int(o.get('groups', 1))
                s['layers'] = layers
                c = sum(shapes[l][0] // groups for l in layers)
                h, w = shapes[layers[0]][1], shapes[layers[0]][2]
            elif t == 'shortcut':
                s['from'] = [int(v) if int(v) >= 0 else i + int(v) for v in o['from'].split(',')]
            elif t == 'maxpool':
                size = int(o.get('size', 1)); stride = int(o.get('stride', 1))
                padding = int(o.get('padding', size - 1))
                s['pool'] = (size, stride, padding)
                h = (h + padding - size) // stride + 1
                w = (w + padding - size) // stride + 1
            elif t == 'avgpool':
                h = w = 1
            elif t == 'upsample':
                stride = int(o.get('stride', 2))
                h, w = h * stride, w * stride
            elif t == 'connected':
                out = int(o.get('output', 1))
                mod.fc = nn.Linear(c * h * w, out)
                self.param_order += [(mod.fc.bias, 'biases'), (mod.fc.weight, 'weights')]
                if int(o.get('batch_normalize', 0)):
                    raise ValueError('connected with batch_normalize is not supported here')
                c, h, w = out, 1, 1
            elif t == 'yolo':
                mask = [v for v in o.get('mask', '').split(',') if v]
                anchors = len(mask) if mask else int(o.get('num', 1))
                entries = int(o.get('classes', 20)) + 5
                if c != anchors * entries:
                    raise ValueError('layer %d [yolo]: %d channels in, (classes+5)*anchors = %d' % (i, c, anchors * entries))
                s['yolo'] = (anchors, entries, float(o.get('scale_x_y', 1)), int(o.get('new_coords', 0)))
            elif t in ('softmax', 'dropout', 'cost'):
                pass
            else:
                raise ValueError('layer type %s is not supported by torch_darknet' % t)
            self.mods.append(mod)
            shapes.append((c, h, w))
        self.shapes = shapes
        # Inputs of each layer other than the previous one, and the network's outputs.
        self.yolo_layers = [i for i, s in enumerate(self.defs) if s['type'] == 'yolo']
        self.output_layers = self.yolo_layers or [len(self.defs) - 1]
        last_use = {}
        for i, s in enumerate(self.defs):
            for l in s.get('layers', []) + s.get('from', []):
                last_use[l] = i
        for l in self.output_layers:
            last_use[l] = len(self.defs)
        self.last_use = last_use

    def load_darknet_weights(self, path):
        data = open(path, 'rb').read()
        major, minor, _ = struct.unpack('<3i', data[:12])
        offset = 12 + (8 if major * 10 + minor >= 2 else 4)
        floats = np.frombuffer(data[offset:], dtype='<f4')
        pos = 0
        with torch.no_grad():
            for tensor, _ in self.param_order:
                n = tensor.numel()
                tensor.copy_(torch.from_numpy(floats[pos:pos + n].copy()).view_as(tensor))
                pos += n
        if pos != floats.size:
            raise ValueError('%s: %d floats left over' % (path, floats.size - pos))

    def forward(self, x):
        outputs = []
        for i in range(len(self.defs)):
            x = self.layer(i, x, outputs)
            outputs.append(x)
        return x, outputs

    def network_outputs(self, x):
        """The outputs of the [yolo] layers (or of the last layer), as a tuple."""
        outputs = []
        for i in range(len(self.defs)):
            x = self.layer(i, x, outputs)
            outputs.append(x if i in self.last_use else None)
            for l in [l for l, last in self.last_use.items() if last == i]:
                outputs[l] = None  # last use: free it
        return tuple(outputs[l] for l in self.output_layers)

    def layer(self, i, x, outputs):
        """Layer i on x (the previous layer's output); outputs[j] is layer j's output."""
        s, mod = self.defs[i], self.mods[i]
        t, o = s['type'], s['opts']
        if t == 'convolutional':
            x = mod.conv(x)
            if hasattr(mod, 'bn'):
                x = mod.bn(x)
            x = activation(o.get('activation', 'logistic'))(x)
        elif t == 'route':
            groups = int(o.get('groups', 1)); gid = int(o.get('group_id', 0))
            parts = []
            for l in s['layers']:
                t_in = outputs[l]
                step = t_in.shape[1] // groups
                parts.append(t_in[:, gid * step:(gid + 1) * step])
            x = torch.cat(parts, 1) if len(parts) > 1 else parts[0]
        elif t == 'shortcut':
            for l in s['from']:
                x = x + outputs[l]
            x = activation(o.get('activation', 'linear'))(x)
        elif t == 'maxpool':
            size, stride, padding = s['pool']
            before = padding // 2
            after = padding - before
            if padding:
                x = F.pad(x, (before, after, before, after), value=-math.inf)
            x = F.max_pool2d(x, size, stride)
        elif t == 'avgpool':
            x = x.mean(dim=(2, 3), keepdim=True)
        elif t == 'upsample':
            x = F.interpolate(x, scale_factor=int(o.get('stride', 2)), mode='nearest')
        elif t == 'connected':
            x = mod.fc(x.flatten(1))
            x = activation(o.get('activation', 'logistic'))(x)
            x = x.view(x.shape[0], -1, 1, 1)
        elif t == 'softmax':
            x = F.softmax(x.flatten(1), dim=1).view_as(x)
        elif t == 'yolo':
            x = yolo_activate(x, *s['yolo'])
        return x


def yolo_activate(x, anchors, entries, scale_x_y, new_coords):
    """Darknet's forward_yolo_layer output (src/layers/yolo.cpp): per anchor, entries x, y, w, h,
    objectness, classes; logistic on all but w and h (new_coords: already activated), then x and y
    scaled by scale_x_y about the cell centre."""
    b, _, h, w = x.shape
    p = x.reshape(b, anchors, entries, h, w)
    xy, wh, rest = p[:, :, 0:2], p[:, :, 2:4], p[:, :, 4:]
    if not new_coords:
        xy, rest = torch.sigmoid(xy), torch.sigmoid(rest)
    if scale_x_y != 1:
        xy = xy * scale_x_y - 0.5 * (scale_x_y - 1)
    return torch.cat((xy, wh, rest), 2).reshape(b, anchors * entries, h, w)


def gradients_in_weights_order(model):
    """Parameter gradients flattened in .weights order (zeros for rolling statistics)."""
    parts = []
    for tensor, name in model.param_order:
        if name in ('rolling_mean', 'rolling_variance') or tensor.grad is None:
            parts.append(np.zeros(tensor.numel(), dtype=np.float32))
        else:
            parts.append(tensor.grad.detach().numpy().astype(np.float32).ravel())
    return np.concatenate(parts)


if __name__ == '__main__':
    # python3 torch_darknet.py CFG WEIGHTS INPUT.npy TRUTH.npy OUT_GRADS.npy
    # Cross-entropy of the softmax output with TRUTH, summed over the batch (mishnet's loss);
    # writes the parameter gradients in .weights order. Runs in float64, so the reference is
    # more precise than the float32 code under test.
    cfg, weights, inp, truth, out = sys.argv[1:6]
    torch.set_num_threads(1)
    model = DarknetModel(cfg)
    model.load_darknet_weights(weights)
    model.double()
    model.train()
    x = torch.from_numpy(np.load(inp)).double()
    t = torch.from_numpy(np.load(truth)).double()
    y, _ = model(x)
    p = y.flatten(1)
    loss = -(t * torch.log(p.clamp_min(1e-30))).sum()
    loss.backward()
    np.save(out, gradients_in_weights_order(model))
    print('loss %.6f' % loss.item())
